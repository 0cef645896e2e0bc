"""`config` is the foundation every app imports; it imports no app at module level, except
where it wires them together (no package cycle between config and the apps)."""

import ast
from pathlib import Path

from django.conf import settings

APPS = {
    "accounts",
    "ai",
    "analytics",
    "audit",
    "notifications",
    "realtime",
    "search",
    "tasks",
    "workflows",
}
WIRING = {"urls.py", "api/router.py", "asgi.py", "celery_app.py", "testing.py"}


def module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:  # module level only: a function may import lazily
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_config_imports_no_app_but_where_it_wires_them():
    root = Path(settings.BASE_DIR) / "config"
    offenders = {
        str(path.relative_to(root)): sorted(module_level_imports(path) & APPS)
        for path in root.rglob("*.py")
        if "tests" not in path.parts
        and str(path.relative_to(root)) not in WIRING
        and module_level_imports(path) & APPS
    }
    assert offenders == {}
