from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('notify', '0004_cheap_status_checks'),
    ]

    operations = [
        migrations.AddField(
            model_name='registrant',
            name='call_preference',
            field=models.CharField(choices=[('standard', 'Standard'), ('gentle', 'Gentle'), ('none', 'None')], default='standard', max_length=8),
        ),
        migrations.AddConstraint(
            model_name='registrant',
            constraint=models.CheckConstraint(condition=models.Q(('call_preference__in', ['standard', 'gentle', 'none'])), name='registrant_call_preference_valid'),
        ),
    ]
