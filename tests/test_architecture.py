"""The shape of the code (docs/ARCHITECTURE.md), checked over every module: each module's layer
by its file name, imports pointing down between packages and between layers, SQL only in stores
and read models, no page importing another page, no clock below the pages and commands, no
loader that skips a missing module, no text chosen by the language in code."""
from __future__ import annotations

import ast
import re
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("audit", "owners", "issues", "exports")          # bottom to top
ENTRY_POINTS = {"streamlit_app", "audit.__main__", "audit.demo", "audit.generate"}

# (layer, rank): a module may import layers of its own rank or below.
LAYERS: tuple[tuple[str, str, int], ...] = (
    (r"model|.+_model", "model", 0),
    (r".+_format", "format", 0),
    (r"messages(_zh|_en)?", "messages", 0),
    (r"store|.+_store|store\..+", "store", 1),
    (r".+_io", "io", 1),
    (r"views|.+_views", "views", 2),
    (r"charts|.+_charts", "charts", 2),
    (r"service|.+_service", "service", 2),
    (r"ui|.+_ui", "ui", 3),
    (r".+_page", "page", 4),
    (r"cli|.+_cli", "cli", 4),
    (r".+_worker", "worker", 4),
)
# Libraries the pure layers may use besides the standard library.
PURE_LIBRARIES = {"networkx", "pendulum", "numpy", "rjieba"}


def _module_files() -> dict[str, Path]:
    out = {"streamlit_app": ROOT / "streamlit_app.py"}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                continue
            out[".".join(parts)] = path
    return out


MODULES = _module_files()


def layer_of(module: str) -> tuple[str, int] | None:
    """The layer and rank of a module by its name inside its package; None for entry points."""
    if module in ENTRY_POINTS:
        return None
    inner = module.split(".", 1)[1]
    for pattern, layer, rank in LAYERS:
        if re.fullmatch(pattern, inner):
            return layer, rank
    raise AssertionError(f"{module} has no layer name (see docs/ARCHITECTURE.md)")


def _known_layer(module: str) -> str:
    """The layer name, '' for an entry point or a module with no layer name (for selecting)."""
    try:
        return (layer_of(module) or ("", 0))[0]
    except AssertionError:
        return ""


@cache
def _tree(module: str) -> ast.Module:
    return ast.parse(MODULES[module].read_text(encoding="utf-8"))


def project_imports(module: str) -> set[str]:
    """The project modules a module imports (`from pkg import mod` counts as pkg.mod)."""
    out: set[str] = set()
    for node in ast.walk(_tree(module)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name:
                out.add(name)
    return out - {module}


def third_party_imports(module: str) -> set[str]:
    stdlib = set(sys.stdlib_module_names)
    out = set()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return {m for m in out if m not in stdlib and m not in PACKAGES and m != "__future__"}


def package_of(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_has_a_layer_name(module):
    layer_of(module)


def test_the_layer_check_knows_the_names():
    assert layer_of("issues.merge_service") == ("service", 2)
    assert layer_of("audit.store.history") == ("store", 1)
    assert layer_of("exports.chart_worker") == ("worker", 4)
    assert layer_of("issues.issue_page") == ("page", 4)
    with pytest.raises(AssertionError):
        layer_of("issues.helpers")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m not in ENTRY_POINTS))
def test_imports_point_down_between_packages_and_layers(module):
    pkg = package_of(module)
    layer, rank = layer_of(module)
    for target in project_imports(module):
        assert target not in ENTRY_POINTS, f"{module} imports the entry point {target}"
        target_pkg = package_of(target)
        assert PACKAGES.index(target_pkg) <= PACKAGES.index(pkg), \
            f"{module} imports {target}: {target_pkg} sits above {pkg}"
        target_layer, target_rank = layer_of(target)
        # Pages, commands and workers are tops: nothing imports them, but the shared command
        # helpers (audit.cli) serve every package's commands.
        if target_layer in ("page", "cli", "worker"):
            assert target == "audit.cli" and layer == "cli", f"{module} imports {target}"
            continue
        assert target_rank <= rank, \
            f"{module} ({layer}) imports {target} ({target_layer}), a layer above it"


def test_the_import_check_sees_every_module():
    # A rename that hid modules from the check would pass it silently.
    assert len(MODULES) > 60
    assert "audit.store.db" in project_imports("issues.service")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _known_layer(m) in
                                          ("model", "format", "messages")))
def test_pure_layers_use_no_database_streamlit_or_other_layers(module):
    for target in project_imports(module):
        assert _known_layer(target) in ("model", "format", "messages"), \
            f"{module} imports {target}"
    if layer_of(module)[0] == "model":
        assert third_party_imports(module) <= PURE_LIBRARIES, module
    if module.endswith(".model"):
        # The packages' own model.py files stay standard library only.
        assert third_party_imports(module) == set(), module
    assert "streamlit" not in third_party_imports(module)
    assert "sqlite_utils" not in third_party_imports(module) or module == "audit.model"


# SQL in this codebase is written with capital keywords, which English prose does not use.
SQL_STATEMENT = re.compile(r"\b(SELECT\b.+?\bFROM|INSERT (OR \w+ )?INTO|UPDATE \w+ SET|"
                           r"DELETE FROM|CREATE (TABLE|INDEX)|PRAGMA \w+)\b", re.DOTALL)
SQL_ALLOWED_LAYERS = {"store", "views"}


def _string_constants(tree: ast.AST) -> list[str]:
    """Every string literal that is not a docstring."""
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef,
                                    ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr)
                  and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docstrings]


def test_the_sql_check_finds_sql_and_ignores_words():
    assert SQL_STATEMENT.search("SELECT id FROM issues WHERE x = ?")
    assert SQL_STATEMENT.search("PRAGMA database_list")
    assert SQL_STATEMENT.search("UPDATE issues SET title = ?")
    assert SQL_STATEMENT.search("INSERT OR REPLACE INTO calendar_years")
    assert not SQL_STATEMENT.search("Update the progress; select a measure from the list")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m not in ENTRY_POINTS))
def test_sql_lives_only_in_stores_and_read_models(module):
    if _known_layer(module) in SQL_ALLOWED_LAYERS:
        return
    for text in _string_constants(_tree(module)):
        assert not SQL_STATEMENT.search(text), f"{module} holds SQL: {text[:60]!r}"
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Attribute) and node.attr in ("execute", "executemany",
                                                             "executescript"):
            raise AssertionError(f"{module} runs SQL (line {node.lineno})")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.endswith("_page")))
def test_pages_never_open_the_database_nor_import_a_store(module):
    assert "sqlite3" not in third_party_imports(module) | {
        n.names[0].name for n in ast.walk(_tree(module)) if isinstance(n, ast.Import)}
    for target in project_imports(module):
        assert _known_layer(target) not in ("store", "io"), f"{module} imports {target}"


def test_stores_and_models_never_import_streamlit_or_pages():
    for module in MODULES:
        if _known_layer(module) in ("model", "format", "store", "io", "views", "service",
                                    "charts"):
            assert "streamlit" not in third_party_imports(module), module
            assert not any(t.endswith("_page") for t in project_imports(module)), module


CLOCK_READERS = {"audit.time_model", "audit.ui", "audit.__main__", "audit.cli", "streamlit_app"}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_nothing_below_the_pages_and_cli_reads_the_clock(module):
    if module in CLOCK_READERS or _known_layer(module) in ("page", "cli"):
        return
    source = MODULES[module].read_text(encoding="utf-8")
    for call in ("date.today()", "datetime.now(", "pendulum.now(", "time_model.now_text()",
                 "time_model.today()", "clock.now_text()", "clock.today()"):
        assert call not in source, f"{module} reads the clock ({call})"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_loader_skips_a_missing_module(module):
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            names = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
            assert not names & {"ImportError", "ModuleNotFoundError"}, \
                f"{module} line {node.lineno} skips what it cannot import"


LANG_TEST = re.compile(r"""\blang(uage)?\s*(==|!=)\s*["'](zh|en)["']""")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_code_chooses_a_text_by_the_language(module):
    source = MODULES[module].read_text(encoding="utf-8")
    found = LANG_TEST.search(source)
    assert not found, f"{module} branches on the language: {found.group(0)!r} (use a key)"
