"""maintenance.recover_tasks ran every 300 s: a task whose message was lost with a broker
outage waited up to five minutes. Its default schedule is now every 30 s; an installed entry
still on the old default moves with it (one an admin changed is left alone). New databases
get the new default from the post_migrate installer (tasks/schedule.py)."""

from django.db import migrations

NAME = "maintenance.recover_tasks (default schedule)"
OLD, NEW = 300, 30


def forwards(apps, schema_editor):
    _move(apps, OLD, NEW)


def backwards(apps, schema_editor):
    _move(apps, NEW, OLD)


def _move(apps, old: int, new: int) -> None:
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    entry = PeriodicTask.objects.filter(
        name=NAME, interval__every=old, interval__period="seconds"
    ).first()
    if entry is None:
        return
    entry.interval, _ = IntervalSchedule.objects.get_or_create(every=new, period="seconds")
    entry.save(update_fields=["interval"])


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
