import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """SubjectContact moves from privacy to custody: the model only, its table and rows stay as they are."""

    dependencies = [
        ("custody", "0007_events_facility_unindexed"),
        # The table was created by privacy, and is where later changes to it will apply.
        ("privacy", "0003_data_report_answer_contact"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SubjectContact",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("value_index", models.CharField(db_index=True, max_length=64)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("subject", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                                      to="custody.subject")),
                    ],
                    options={
                        "db_table": "privacy_subjectcontact",
                        "constraints": [models.UniqueConstraint(fields=("subject", "value_index"),
                                                                name="subject_contact_unique")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
