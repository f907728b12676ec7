"""The staff roles, as Groups other apps can rely on by name."""

from django.db import migrations

# Written out rather than imported: a migration must keep meaning what it meant when it was written.
ROLES = ("agency_operator", "call_centre", "privacy_officer", "auditor", "administrator")


def create_roles(apps, schema_editor):
    group = apps.get_model("auth", "Group")
    for name in ROLES:
        group.objects.get_or_create(name=name)


def delete_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_roles, delete_roles)]
