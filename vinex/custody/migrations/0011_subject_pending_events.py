from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("custody", "0010_subject_name_birth_lookup")]

    operations = [
        migrations.AddField(
            model_name="subject",
            name="pending_events",
            field=models.PositiveIntegerField(default=0),
        ),
    ]
