"""`manage.py runworkflow`: inline (no broker, no worker) and queued-and-followed."""

import io

import pytest
import yaml
from django.conf import settings
from django.core.management import CommandError, call_command

from accounts.models import User
from accounts.services import personal_workspace
from workflows.models import Run, RunStatus, Trigger, Workflow
from workflows.tests.engine_support import APPROVAL, DIAMOND, make_workflow


@pytest.fixture
def admin(make_user):
    return make_user("admin")


def run_command(*args) -> str:
    out = io.StringIO()
    call_command("runworkflow", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_inline_imports_a_file_runs_it_and_prints_the_documents(admin, tmp_path):
    path = tmp_path / "diamond.yaml"
    path.write_text(yaml.safe_dump(DIAMOND))

    output = run_command(str(path), "--input", "topic=tea", "--inline")

    run = Run.objects.get()
    assert run.status == RunStatus.SUCCEEDED and run.trigger == Trigger.CLI
    assert "Imported" in output and f"Run {run.pk} succeeded: 4 documents" in output
    assert output.count("step ") == 4  # one plain progress line per step (not a TTY)
    assert "=== d: " in output and "D<B<# Brief\nAbout tea.>|C<Brief>>" in output


@pytest.mark.django_db(transaction=True)
def test_inline_writes_markdown_files_for_an_existing_workflow(admin, tmp_path):
    from accounts.services import personal_workspace

    workflow = make_workflow(admin, personal_workspace(admin), DIAMOND)
    out_dir = tmp_path / "docs"
    output = run_command(
        str(workflow.pk), "--input", "topic=tea", "--inline", "--out", str(out_dir)
    )

    files = sorted(p.name for p in out_dir.iterdir())
    assert files == ["01-a.md", "02-b.md", "03-c.md", "04-d.md"]
    assert (out_dir / "03-c.md").read_text() == "C<Brief>\n"
    assert "Wrote 4 documents" in output


@pytest.mark.django_db(transaction=True)
def test_inline_stops_at_an_approval_and_says_how_to_approve(admin, tmp_path):
    path = tmp_path / "kit.json"
    path.write_text(yaml.safe_dump(APPROVAL))
    output = run_command(str(path), "--input", "product=Kite", "--inline")
    run = Run.objects.get()
    assert run.status == RunStatus.WAITING
    assert f"POST /api/v3/runs/{run.pk}/steps/review/approve" in output


@pytest.mark.django_db(transaction=True)
def test_bad_arguments_are_clear_errors(admin, tmp_path):
    with pytest.raises(CommandError, match="neither a definition file"):
        run_command("nope.yaml", "--inline")
    path = tmp_path / "diamond.yaml"
    path.write_text(yaml.safe_dump(DIAMOND))
    with pytest.raises(CommandError, match="required"):
        run_command(str(path), "--inline")
    with pytest.raises(CommandError, match="key=value"):
        run_command(str(path), "--input", "topic", "--inline")
    with pytest.raises(CommandError, match="No user"):
        run_command(str(path), "--user", "ghost", "--inline")


@pytest.mark.integration
def test_queued_run_is_followed_live_until_it_finishes(celery_worker, admin, tmp_path):
    path = tmp_path / "diamond.yaml"
    path.write_text(yaml.safe_dump(DIAMOND))
    output = run_command(str(path), "--input", "topic=tea", "--priority", "high")
    run = Run.objects.get()
    assert run.status == RunStatus.SUCCEEDED and run.priority == "high"
    assert f"Run {run.pk} succeeded: 4 documents" in output


@pytest.mark.django_db(transaction=True)
def test_a_new_database_needs_no_user_and_running_a_file_again_reuses_its_workflow(tmp_path):
    path = tmp_path / "diamond.yaml"
    path.write_text(yaml.safe_dump(DIAMOND))

    first = run_command(str(path), "--input", "topic=tea", "--inline")
    again = run_command(str(path), "--input", "topic=tea", "--inline")

    cli = User.objects.get(username="cli")  # made for the command line, cannot log in
    assert not cli.has_usable_password()
    workflow = Workflow.objects.get()  # one copy, not two
    assert workflow.workspace == personal_workspace(cli) and workflow.version == 1
    assert "Imported" in first and "unchanged" in again
    assert Run.objects.filter(workflow=workflow, status=RunStatus.SUCCEEDED).count() == 2

    changed = {**DIAMOND, "description": "Now described."}
    path.write_text(yaml.safe_dump(changed))
    assert "now version 2" in run_command(str(path), "--input", "topic=tea", "--inline")
    assert Workflow.objects.get().version == 2


@pytest.mark.django_db(transaction=True)
def test_the_readmes_examples_run_as_written(admin, tmp_path, monkeypatch):
    """The README's runworkflow lines, on a database `make run` prepared (the admin, the
    examples), from the project's directory."""
    monkeypatch.chdir(settings.BASE_DIR)
    call_command("load_examples", stdout=io.StringIO())
    out_dir = tmp_path / "out"
    output = run_command(
        "examples/meeting-follow-up.yaml",
        "--inline",
        "--input",
        "notes=Ship v2 Friday. Bob owns the notes.",
        "--input",
        "attendees=Bob",
        "--out",
        str(out_dir),
    )
    assert "unchanged" in output and "succeeded" in output and any(out_dir.iterdir())
    by_name = run_command("Meeting follow-up", "--input", "notes=Ship v2 Friday.", "--inline")
    assert "succeeded" in by_name
    assert Workflow.objects.filter(name="Meeting follow-up").count() == 1
