import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vinex.settings")
application = get_wsgi_application()

from vinex.core.gc import tune_for_service  # noqa: E402 - needs Django set up first

tune_for_service()
