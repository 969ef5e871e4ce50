from django.db import migrations, models
from django.db.models import F


def changed_is_fork(apps, schema_editor):
    """Until now the fork block recorded was the lowest kept block whose hash changed."""
    apps.get_model("chain", "Reorg").objects.update(changed_block=F("fork_block"))


class Migration(migrations.Migration):
    dependencies = [
        ("chain", "0003_indexed_event_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="reorg",
            name="changed_block",
            field=models.PositiveBigIntegerField(
                default=0,
                help_text="The lowest kept block whose hash changed: the fork is at or under it.",
            ),
            preserve_default=False,
        ),
        migrations.RunPython(changed_is_fork, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="reorg",
            name="fork_block",
            field=models.PositiveBigIntegerField(
                help_text="The first block rolled back (the blocks under it did not change)."
            ),
        ),
        migrations.AlterField(
            model_name="reorg",
            name="depth",
            field=models.PositiveIntegerField(
                help_text="Blocks from the fork block to the highest kept."
            ),
        ),
        migrations.AlterField(
            model_name="reorg",
            name="old_hash",
            field=models.CharField(
                blank=True, help_text="The changed block's, kept.", max_length=66
            ),
        ),
        migrations.AlterField(
            model_name="reorg",
            name="new_hash",
            field=models.CharField(
                blank=True, help_text="The changed block's, now.", max_length=66
            ),
        ),
    ]
