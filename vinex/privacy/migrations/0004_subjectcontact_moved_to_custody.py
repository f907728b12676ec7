from django.db import migrations


class Migration(migrations.Migration):
    """SubjectContact now belongs to custody (``custody.0008``): privacy forgets the model, not the table."""

    dependencies = [
        ("privacy", "0003_data_report_answer_contact"),
        ("custody", "0008_subjectcontact_moved_from_privacy"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="SubjectContact")],
            database_operations=[],
        ),
    ]
