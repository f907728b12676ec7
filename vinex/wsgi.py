import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vinex.settings")
django.setup(set_prefix=False)  # as django.core.wsgi.get_wsgi_application does

from vinex.core.gc import tune_for_service  # noqa: E402 - needs Django set up first
from vinex.site.handler import SplitWSGIHandler  # noqa: E402 - likewise

application = SplitWSGIHandler()

tune_for_service()
