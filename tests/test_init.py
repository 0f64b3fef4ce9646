"""The package surface: every public name is the documented object."""

def test_public_names_resolve_to_the_documented_objects():
    import seqtune
    import seqtune.forecaster  # noqa: F401  (imports the backtest submodule too)

    for name in seqtune.__all__:
        obj = getattr(seqtune, name)
        assert not isinstance(obj, type(seqtune)), f"seqtune.{name} is a module, not the API"
    assert callable(seqtune.backtest)
