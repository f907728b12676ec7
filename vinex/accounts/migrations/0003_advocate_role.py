"""The victim advocate role, as a Group other apps can rely on by name."""

from django.db import migrations

# Written out rather than imported: a migration must keep meaning what it meant when it was written.
ROLE = "advocate"


def create_role(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=ROLE)


def delete_role(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=ROLE).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_roles")]

    operations = [migrations.RunPython(create_role, delete_role)]
