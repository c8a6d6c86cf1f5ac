"""The import rules of STYLE.md, checked by parsing every module."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UI_LIBS = {"dash", "dash_bootstrap_components", "dash_ag_grid", "plotly", "flask", "diskcache"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(folder: str):
    return sorted((ROOT / folder).rglob("*.py"))


def _top(name: str) -> str:
    return name.split(".")[0]


def test_analytics_is_pure():
    for path in _modules("analytics"):
        tops = {_top(n) for n in _imports(path)}
        assert not tops & (UI_LIBS | {"dashboard", "pages", "components"}), path.name
        if path.name != "__main__.py":  # the process entry point may read the environment
            text = path.read_text()
            assert "os.environ" not in text and "getenv" not in text, path.name


MIGRATIONS = ROOT / "analytics" / "campaigns" / "migrations"


def test_analytics_does_nothing_at_import_time():
    for path in _modules("analytics"):
        if path.name == "env.py" and path.parent == MIGRATIONS:
            continue  # Alembic's environment script: run by `alembic upgrade`, never imported
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                raise AssertionError(f"{path.name} calls something at import time")


def test_components_get_data_through_arguments():
    for path in _modules("components"):
        tops = {_top(n) for n in _imports(path)}
        assert "analytics" not in tops and "dashboard" not in tops, path.name


def test_pages_use_services_not_analytics_nor_other_pages():
    for path in _modules("pages"):
        names = _imports(path)
        assert "analytics" not in {_top(n) for n in names}, path.name
        assert not any(n.startswith("pages") for n in names), path.name
        assert "app.callback" not in path.read_text(), path.name


def test_only_services_imports_analytics_in_the_dashboard():
    for path in _modules("dashboard"):
        if path.parent.name == "services":
            continue
        assert "analytics" not in {_top(n) for n in _imports(path)}, path.name


# Each page reaches analytics through its own service; the pages that simulate offers also
# use the what-if/campaign service.
PAGE_SERVICES = {"overview": {"overview"}, "segments": {"segments"},
                 "customers": {"customers"}, "customer": {"customer", "offers"},
                 "whatif": {"offers"}, "campaign": {"offers", "campaigns"},
                 "effectiveness": {"campaigns"}, "trends": {"trends"}, "score": {"score"},
                 "model": {"model", "tiers"}, "data": {"data", "datasets"},
                 "behaviour": {"behaviour"}}


def test_a_page_imports_only_its_own_service():
    for path in _modules("pages"):
        tree = ast.parse(path.read_text())
        used = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "dashboard.services":
                used |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "dashboard.services."):
                used.add(node.module.split(".")[2])
        used -= {"core", "exports"}  # shared helpers (export links), not a page's queries
        assert used and used <= PAGE_SERVICES[path.stem], (path.name, used)


def test_service_modules_stay_small():
    for path in _modules("dashboard/services"):
        assert len(path.read_text().splitlines()) <= 400, path.name
