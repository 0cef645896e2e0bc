import pytest

from tasks import registry
from tasks.registry import TaskContext, all_task_types, get_task_type, task_type


@pytest.fixture(autouse=True)
def scratch_registry(monkeypatch):
    """Types registered by a test vanish after it."""
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))


def test_builtin_types_are_discovered():
    names = {t.name for t in all_task_types()}
    assert {
        "data_processing",
        "diagnostics.echo",
        "diagnostics.sleep",
        "diagnostics.flaky",
        "maintenance.cleanup_tasks",
        "maintenance.flush_expired_tokens",
        "maintenance.recover_tasks",
        "maintenance.release_scheduled",
    } <= names


def test_payload_errors_name_the_path():
    sleep = get_task_type("diagnostics.sleep")
    assert sleep.payload_errors({"seconds": 1}) == []
    problems = sleep.payload_errors({"seconds": "soon", "extra": 1})
    assert any(p.startswith("seconds:") for p in problems)
    assert any("extra" in p for p in problems)


def test_extra_validation_runs_after_the_schema():
    processing = get_task_type("data_processing")
    assert processing.payload_errors({"operation": "template", "template": "{{ name }}"}) == []
    assert "template" in processing.payload_errors({"template": "{% if %}"})[0]
    assert "debug" in processing.payload_errors({"template": "{% debug %}"})[0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"priority": "urgent"},
        {"time_limit": 0},
        {"max_retries": -1},
        {"schema": {"type": "nonsense"}},
        {"schedule": {"hourly": True}},
    ],
)
def test_bad_declarations_are_refused(kwargs):
    options = {"schema": {"type": "object"}, "description": "x", **kwargs}
    with pytest.raises(ValueError):
        task_type("tests.bad", **options)(lambda ctx, payload: None)
    with pytest.raises(KeyError):
        get_task_type("tests.bad")


def test_a_name_cannot_be_taken_twice():
    def first(ctx: TaskContext, payload):
        return 1

    def second(ctx: TaskContext, payload):
        return 2

    task_type("tests.twice", schema={"type": "object"}, description="x")(first)
    task_type("tests.twice", schema={"type": "object"}, description="x")(first)  # re-import
    with pytest.raises(ValueError, match="already registered"):
        task_type("tests.twice", schema={"type": "object"}, description="x")(second)
    assert get_task_type("tests.twice").fn is first
