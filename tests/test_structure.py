"""The layout rules of DESIGN.md, checked on the source: import boundaries and module size.

Every import counts, lazy ones inside functions included (they are how the layers
reach each other at run time); only ``if TYPE_CHECKING:`` blocks are skipped.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "seqtune"

# Data flows one way: validate -> pad or window -> build the Keras model -> fit ->
# search -> track. Each entry: (modules, what they must not import, why).
ESTIMATOR_SIDE = (
    "seqtune._base", "seqtune.classifier", "seqtune.regressor", "seqtune.forecaster",
    "seqtune.model", "seqtune.seq2seq", "seqtune.windows", "seqtune.sequences",
    "seqtune.validation", "seqtune.preprocessing", "seqtune.backtest", "seqtune.splits",
    "seqtune.listeners", "seqtune.device", "seqtune.callbacks", "seqtune.layers",
    "seqtune.ensemble", "seqtune._tensorflow",
)
FORBIDDEN = [
    (ESTIMATOR_SIDE,
     ("seqtune.search", "seqtune.tracking", "seqtune.records", "seqtune.spaces", "seqtune.cli",
      "keras_tuner", "mlflow"),
     "estimators and model builders know nothing of the search or the tracking"),
    (("seqtune.spaces",),
     ("seqtune.search", "seqtune.tracking", "keras_tuner", "mlflow", "keras"),
     "search spaces are data; they only register on the HyperParameters they are given"),
    (("seqtune.tracking",),
     ("seqtune.search", "seqtune.spaces", "seqtune._base", "seqtune.classifier",
      "seqtune.regressor", "seqtune.forecaster", "seqtune.model", "seqtune.seq2seq",
      "keras_tuner"),
     "tracking logs records; it builds no model and knows no search"),
    (("seqtune.records", "seqtune.fingerprint"),
     ("seqtune.search", "seqtune.tracking", "keras_tuner", "mlflow"),
     "records and fingerprints sit below both the search and the tracking"),
]
# Keras Tuner's private API is used by its adapter only: the tuner, and the chief.
KERAS_TUNER_PRIVATE = "keras_tuner.src"
KERAS_TUNER_ADAPTER = ("seqtune.search._tuner", "seqtune.search._chief")
MAX_LINES = 600


def _module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path, package_dir: Path = PACKAGE) -> set[str]:
    """Absolute names of every module ``path`` imports, anywhere in the file."""
    module = _module_name(path, package_dir)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # "from seqtune import device" imports the submodule seqtune.device.
            found.update(f"{target}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _matches(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_the_checker_sees_lazy_and_relative_imports(tmp_path):
    path = tmp_path / "seqtune" / "search" / "thing.py"
    path.parent.mkdir(parents=True)
    path.write_text("from typing import TYPE_CHECKING\n"
                    "if TYPE_CHECKING:\n    import torch\n"
                    "def f():\n    import mlflow\n    from ..tracking import _fit\n"
                    "    from . import _tuner\n")
    found = imports_of(path, tmp_path / "seqtune")
    assert {"mlflow", "seqtune.tracking._fit", "seqtune.search._tuner"} <= found
    assert "torch" not in found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: _module_name(p))
def test_no_forbidden_import(path):
    module = _module_name(path)
    imported = imports_of(path)
    for sources, targets, why in FORBIDDEN:
        if not _matches(module, sources):
            continue
        bad = sorted(name for name in imported if _matches(name, targets))
        assert not bad, f"{module} imports {bad}: {why}"
    if module not in KERAS_TUNER_ADAPTER:
        private = sorted(name for name in imported if _matches(name, (KERAS_TUNER_PRIVATE,)))
        assert not private, (f"{module} imports {private}; only {', '.join(KERAS_TUNER_ADAPTER)} "
                             "may touch Keras Tuner's private API")


@pytest.mark.parametrize("path", [p for p in SOURCES if _module_name(p).startswith("seqtune.search")],
                         ids=lambda p: _module_name(p))
def test_the_search_meets_tracking_through_track_and_its_public_names(path):
    module = _module_name(path)
    tracking = sorted(name for name in imports_of(path) if _matches(name, ("seqtune.tracking",)))
    private = [name for name in tracking if any(part.startswith("_") for part in name.split(".")[2:])]
    assert not private, f"{module} imports {private}: seqtune.tracking's public names only"
    if module != "seqtune.search._track":
        assert not tracking, f"{module} imports {tracking}: the search tracks through _track"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: _module_name(p))
def test_no_module_is_over_600_lines(path):
    n_lines = len(path.read_text(encoding="utf-8").splitlines())
    assert n_lines <= MAX_LINES, f"{_module_name(path)} has {n_lines} lines; split it by concept"
