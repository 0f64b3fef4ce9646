"""The public surface stays as documented: ``seqtune.__all__`` and every public signature.

``tests/fixtures/public_api.json`` is the snapshot. A change to it is an API change:
update the file in the same commit, on purpose (``python tests/test_public_api.py``
rewrites it), and say so in the README.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import seqtune

SNAPSHOT = Path(__file__).parent / "fixtures" / "public_api.json"


def _signature(func) -> list[str]:
    """Parameters as ``kind name=default`` strings; annotations are left out."""
    out = []
    for p in inspect.signature(func).parameters.values():
        text = f"{p.kind.name} {p.name}"
        if p.default is not inspect.Parameter.empty:
            text += f"={p.default!r}"
        out.append(text)
    return out


def current_api() -> dict:
    api: dict = {"__all__": sorted(seqtune.__all__), "classes": {}, "functions": {}}
    for name in sorted(seqtune.__all__):
        obj = getattr(seqtune, name)
        if inspect.isclass(obj):
            entry = {"__init__": _signature(obj.__init__)}
            for method in ("fit", "predict", "predict_proba", "score", "evaluate"):
                if callable(getattr(obj, method, None)):
                    entry[method] = _signature(getattr(obj, method))
            api["classes"][name] = entry
        elif callable(obj):
            api["functions"][name] = _signature(obj)
    return api


def test_public_api_matches_the_snapshot():
    api = current_api()
    expected = json.loads(SNAPSHOT.read_text())
    assert api["__all__"] == expected["__all__"]
    for kind in ("classes", "functions"):
        assert sorted(api[kind]) == sorted(expected[kind])
        for name, entry in expected[kind].items():
            assert api[kind][name] == entry, f"signature of seqtune.{name} changed"


if __name__ == "__main__":  # rewrite the snapshot after a deliberate API change
    SNAPSHOT.write_text(json.dumps(current_api(), indent=1, sort_keys=True) + "\n")
