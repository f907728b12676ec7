from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("custody", "0012_apikey_purposes")]

    operations = [
        migrations.AddField(
            model_name="subject",
            name="pending_events",
            field=models.PositiveIntegerField(default=0),
        ),
    ]
