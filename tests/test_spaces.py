"""Tests for seqtune.spaces: YAML/dict -> validated SearchSpace -> keras_tuner."""

from __future__ import annotations

import pickle

import keras_tuner as kt
import pytest
import yaml
from sklearn.base import BaseEstimator

from seqtune.spaces import (
    BoolDistribution,
    ChoiceDistribution,
    FixedDistribution,
    FloatDistribution,
    IntDistribution,
    SearchSpace,
    SpaceError,
    available_spaces,
    load_space,
)

TASKS = ["classification", "regression", "forecasting"]
COMMON = [
    "cell",
    "units",
    "n_layers",
    "bidirectional",
    "dropout",
    "recurrent_dropout",
    "learning_rate",
    "clipnorm",
    "batch_size",
    "epochs",
    "early_stopping",
    "validation_fraction",
    "patience",
    "random_state",
    "verbose",
]


class _FakeEstimator(BaseEstimator):
    """Stands in for the real estimators: only get_params() matters here."""

    def __init__(self, **params):
        self._names = list(params)
        self.__dict__.update(params)

    def get_params(self, deep=True):
        return {name: getattr(self, name) for name in self._names}


def _estimator(task):
    extra = (
        ["lookback", "horizon", "strategy", "linear_skip", "log", "difference", "ensemble_size",
         "reduce_lr_patience"]
        if task == "forecasting"
        else ["sequence_length", "stride", "pooling", "conv_branch", "conv_frontend",
              "squeeze_excite", "normalize", "reduce_lr_patience"]
    )
    return _FakeEstimator(**{name: None for name in COMMON + extra})


# -- shipped files -------------------------------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", ["default", "quick"])
def test_every_shipped_space_loads_for_its_task_and_builds(task, name):
    space = load_space(name, task=task, estimator=_estimator(task))
    length_key = "lookback" if task == "forecasting" else "sequence_length"
    assert length_key in space
    assert {"cell", "units", "n_layers", "learning_rate", "batch_size"} <= set(space.names)
    assert ("stride" in space) == (task != "forecasting")
    values = space.build(kt.HyperParameters())
    assert values["cell"] in {"lstm", "gru", "rnn"}
    assert length_key in values


@pytest.mark.parametrize(
    ("task", "module", "cls"),
    [
        ("classification", "seqtune.classifier", "SequenceClassifier"),
        ("regression", "seqtune.regressor", "SequenceRegressor"),
        ("forecasting", "seqtune.forecaster", "SequenceForecaster"),
    ],
)
@pytest.mark.parametrize("name", ["default", "quick"])
def test_shipped_spaces_fit_the_real_estimators(task, module, cls, name):
    estimator = getattr(pytest.importorskip(module), cls)()
    space = load_space(name, task=task, estimator=estimator)
    values = space.build(kt.HyperParameters())
    estimator.set_params(**values)  # anything searchable is settable by hand
    assert {k: estimator.get_params()[k] for k in values} == values


@pytest.mark.parametrize("task", TASKS)
def test_default_spaces_cover_the_issue_parameters_and_keep_cudnn_first(task):
    space = load_space("default", task=task)
    for key in [
        "cell",
        "n_layers",
        "units",
        "bidirectional",
        "dropout",
        "recurrent_dropout",
        "learning_rate",
        "batch_size",
    ]:
        assert key in space
    assert set(space["cell"].values) == {"lstm", "gru", "rnn"}
    # recurrent_dropout > 0 disables cuDNN: 0 must be the default (first) value.
    assert space["recurrent_dropout"].values[0] == 0.0
    assert space.build(kt.HyperParameters()).get("recurrent_dropout", 0.0) == 0.0


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_default_spaces_search_the_hybrids_and_start_from_lstm_fcn(task):
    space = load_space("default", task=task)
    for key in ["conv_branch", "squeeze_excite", "pooling", "normalize"]:
        assert key in space
    assert set(space["pooling"].values) == {"last", "mean", "attention"}
    assert space["squeeze_excite"].when == {"conv_branch": (True,)}
    defaults = space.build(kt.HyperParameters())
    assert defaults["conv_branch"] is True and defaults["cell"] == "lstm" and defaults["units"] == 8


def test_default_name_is_the_task_file_and_names_are_listed():
    assert load_space("default", task="regression").source == "regression.yaml"
    assert {"default", "quick", "classification", "regression", "forecasting"} <= set(
        available_spaces()
    )


def test_quick_space_uses_task_sections():
    clf = load_space("quick", task="classification")
    fc = load_space("quick", task="forecasting")
    assert "sequence_length" in clf and "lookback" not in clf
    assert "lookback" in fc and "sequence_length" not in fc and "stride" not in fc
    assert clf["units"] == IntDistribution(min=8, max=16, step=8)


# -- value forms ---------------------------------------------------------------------------


def test_shorthands_and_long_forms_are_equal():
    space = load_space(
        {"cell": ["lstm", "gru"], "units": 8, "bidirectional": {"type": "bool"}},
        task="classification",
    )
    assert space["cell"] == ChoiceDistribution(values=("lstm", "gru"))
    assert space["units"] == FixedDistribution(value=8)
    assert space["bidirectional"] == BoolDistribution()
    assert space["cell"] != ChoiceDistribution(values=("gru", "lstm"))


def test_yaml_scientific_notation_is_a_float(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("learning_rate: {type: float, min: 1e-4, max: 1e-2, sampling: log}\n")
    space = load_space(path, task="regression")
    assert space["learning_rate"] == FloatDistribution(min=1e-4, max=1e-2, sampling="log")


def test_mixed_int_and_float_choice_becomes_float():
    dist = ChoiceDistribution(values=(0, 0.1, 0.25), default=0)
    assert dist.values == (0.0, 0.1, 0.25) and all(isinstance(v, float) for v in dist.values)
    assert isinstance(dist.default, float)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"type": "int", "min": 64, "max": 8},
            r"<dict>: key 'units': min \(64\) is greater than max \(8\); expected min <= max",
        ),
        (
            {"type": "int", "min": 8.5, "max": 16},
            r"key 'units': min \(8.5\) is not an integer; expected \{type: int, min: <int>",
        ),
        ({"type": "int", "min": 8}, r"key 'units': missing 'max'; expected \{type: int"),
        (
            {"type": "integer", "min": 8, "max": 16},
            r"key 'units': type \('integer'\) is unknown; did you mean 'int'\?",
        ),
        (
            {"type": "int", "min": 8, "maxx": 16},
            r"key 'units': field 'maxx' is unknown; did you mean 'max'\?",
        ),
        (
            {"type": "int", "min": 0, "max": 16, "sampling": "log"},
            r"min \(0\) must be > 0 with sampling 'log'; expected min > 0 for log sampling",
        ),
        (
            {"type": "int", "min": 8, "max": 64, "step": 1, "sampling": "log"},
            r"step \(1\) is too small; expected step > 1 \(a multiplier\) for log sampling",
        ),
        (
            {"type": "int", "min": 8, "max": 64, "sampling": "cubic"},
            r"sampling \('cubic'\) is unknown; expected sampling: linear\|log\|reverse_log",
        ),
        (
            {"type": "int", "min": 8, "max": 64, "default": 128},
            r"default \(128\) is outside \[8, 64\]",
        ),
        (
            {"type": "int", "min": 8, "max": 64, "default": 9.5},
            r"default \(9.5\) is not an integer",
        ),
        ({"type": "float", "min": "a", "max": 1.0}, r"min \('a'\) is not a number"),
        ({"type": "choice", "values": []}, r"values \(\[\]\) is not a non-empty list"),
        ({"type": "choice", "values": [8, "16"]}, r"values \(\[8, '16'\]\) mixes number and str"),
        ({"type": "choice", "values": [8, 8]}, r"has duplicates; expected each value once"),
        (
            {"type": "choice", "values": [8, 16], "default": 32},
            r"default \(32\) is not one of \[8, 16\]",
        ),
        ({"type": "bool", "default": "yes"}, r"default \('yes'\) is not a bool"),
        ({"type": "fixed", "value": [1, 2]}, r"value \(\[1, 2\]\) is not a number, string or bool"),
        (None, r"key 'units': value \(None\) is empty"),
    ],
)
def test_bad_entries_name_source_key_value_and_form(entry, message):
    with pytest.raises(SpaceError, match=message):
        load_space({"units": entry}, task="classification")


def test_file_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("cell: [lstm, gru]\nunits: {type: int, min: 64, max: 8}\n")
    with pytest.raises(
        SpaceError, match=rf"{path}: key 'units': min \(64\) is greater than max \(8\)"
    ):
        load_space(path, task="classification")
    path.write_text("cell: [lstm\n")
    with pytest.raises(SpaceError, match=r"bad.yaml: not valid YAML"):
        load_space(str(path), task="classification")
    path.write_text("")
    with pytest.raises(SpaceError, match=r"bad.yaml: the space is empty"):
        load_space(path, task="classification")
    with pytest.raises(SpaceError, match=r"missing.yaml: no such file"):
        load_space(tmp_path / "missing.yaml", task="classification")


def test_errors_in_another_tasks_section_are_still_reported():
    space = {"cell": "lstm", "forecasting": {"lookback": {"type": "int", "min": 9, "max": 3}}}
    with pytest.raises(
        SpaceError, match=r"key 'forecasting.lookback': min \(9\) is greater than max \(3\)"
    ):
        load_space(space, task="classification")


def test_unknown_names_and_tasks_get_hints():
    with pytest.raises(
        SpaceError, match=r"space 'quik' is not a shipped space; did you mean 'quick'\?"
    ):
        load_space("quik", task="classification")
    with pytest.raises(
        SpaceError, match=r"task \('forecast'\) is unknown; did you mean 'forecasting'\?"
    ):
        load_space("quick", task="forecast")
    with pytest.raises(SpaceError, match=r"unsupported type"):
        load_space(42, task="classification")


# -- keys against the estimator and the task -----------------------------------------------


def test_unknown_key_gets_did_you_mean():
    with pytest.raises(
        SpaceError,
        match=r"<dict>: key 'unit' is not a parameter of _FakeEstimator; "
        r"did you mean 'units'\?",
    ):
        load_space({"unit": [8, 16]}, task="classification", estimator=_estimator("classification"))


def test_unknown_key_without_close_match_lists_parameters():
    with pytest.raises(
        SpaceError, match=r"key 'zzz' is not a parameter .*expected one of \['batch_size'"
    ):
        load_space({"zzz": 1}, task="regression", estimator=_estimator("regression"))


def test_task_specific_keys_are_checked_without_an_estimator():
    with pytest.raises(
        SpaceError,
        match=r"key 'sequence_length' is not a forecasting parameter; "
        r"expected 'lookback'",
    ):
        load_space({"sequence_length": [8, 16]}, task="forecasting")
    with pytest.raises(SpaceError, match=r"key 'lookback' is not a classification parameter"):
        load_space({"lookback": 8}, task="classification")


def test_an_existing_space_is_checked_against_task_and_estimator():
    space = load_space("quick", task="classification")
    assert load_space(space, task="classification") is space
    with pytest.raises(SpaceError, match=r"built for 'classification', not 'regression'"):
        load_space(space, task="regression")
    with pytest.raises(
        SpaceError,
        match=r"key 'recurrent_dropout' is not a parameter of _FakeEstimator; "
        r"expected one of \['cell'",
    ):
        load_space(
            space, task="classification", estimator=_FakeEstimator(cell=1, units=1, n_layers=1)
        )


# -- conditions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (
            {"celll": ["gru"]},
            r"key 'recurrent_dropout': when.celll names a key not in the space; "
            r"did you mean 'cell'\?",
        ),
        (
            {"cell": ["cnn"]},
            r"when.cell \(\['cnn'\]\) is not among its values; expected values from",
        ),
        (
            {"units": [8]},
            r"when.units: 'units' is a range; expected a choice, bool or fixed parent",
        ),
        ({"cell": []}, r"when.cell \(\[\]\) is not a value or a non-empty list"),
    ],
)
def test_bad_conditions(when, message):
    space = {
        "cell": ["lstm", "gru"],
        "units": {"type": "int", "min": 8, "max": 16},
        "recurrent_dropout": {"type": "float", "min": 0.0, "max": 0.3, "when": when},
    }
    with pytest.raises(SpaceError, match=message):
        load_space(space, task="classification")


def test_condition_cycles_are_rejected():
    space = {
        "cell": {"type": "choice", "values": ["lstm", "gru"], "when": {"bidirectional": True}},
        "bidirectional": {"type": "bool", "when": {"cell": "gru"}},
    }
    with pytest.raises(SpaceError, match=r"form a cycle"):
        load_space(space, task="classification")


def _conditional_space():
    # The child comes first in the file: registration order must still put the parent first.
    return load_space(
        {
            "recurrent_dropout": {"type": "choice", "values": [0.0, 0.2], "when": {"cell": "gru"}},
            "cell": ["lstm", "gru"],
            "units": [4, 8],
        },
        task="classification",
    )


def test_build_registers_conditional_scopes_and_omits_inactive_values():
    space = _conditional_space()
    assert space.names == ("cell", "recurrent_dropout", "units")

    hp = kt.HyperParameters()
    values = space.build(hp)
    assert values == {"cell": "lstm", "units": 4}  # recurrent_dropout inactive for lstm
    registered = {p.name: p for p in hp.space}
    assert set(registered) == {"cell", "recurrent_dropout", "units"}
    assert [c.get_config() for c in registered["recurrent_dropout"].conditions] == [
        {"name": "cell", "values": ["gru"]}
    ]
    assert not hp.is_active("recurrent_dropout")

    # A trial where the oracle picked gru: the conditional parameter is active.
    trial_hp = hp.copy()
    trial_hp.values.update({"cell": "gru", "recurrent_dropout": 0.2, "units": 8})
    assert space.build(trial_hp) == {"cell": "gru", "recurrent_dropout": 0.2, "units": 8}


def test_build_passes_ranges_steps_and_defaults_to_keras_tuner():
    space = load_space(
        {
            "units": {"type": "int", "min": 16, "max": 128, "step": 2, "sampling": "log"},
            "learning_rate": {
                "type": "float",
                "min": 1e-4,
                "max": 1e-2,
                "sampling": "log",
                "default": 1e-3,
            },
            "bidirectional": {"type": "bool", "default": True},
            "epochs": 3,
        },
        task="regression",
    )
    hp = kt.HyperParameters()
    assert space.build(hp) == {
        "units": 16,
        "learning_rate": 1e-3,
        "bidirectional": True,
        "epochs": 3,
    }
    units = hp.space[0]
    assert (units.min_value, units.max_value, units.step, units.sampling) == (16, 128, 2, "log")
    assert type(hp.space[3]).__name__ == "Fixed"


def test_names_are_deterministic_so_resume_matches():
    first, second = kt.HyperParameters(), kt.HyperParameters()
    load_space("default", task="classification").build(first)
    load_space("default", task="classification").build(second)
    assert [p.get_config() for p in first.space] == [p.get_config() for p in second.space]
    # Building again on the same hp (what a tuner does each trial) adds nothing new.
    load_space("default", task="classification").build(first)
    assert len(first.space) == len(second.space)


def test_build_works_with_a_keras_tuner_oracle_sampling_conditionals():
    space = _conditional_space()
    hp = kt.HyperParameters()
    space.build(hp)
    oracle = kt.oracles.RandomSearchOracle(
        objective=kt.Objective("score", "max"), max_trials=30, seed=0
    )
    oracle._set_project_dir("unused", "unused")  # no I/O: populate_space only needs hp
    oracle.hyperparameters = hp
    seen = set()
    for i in range(30):
        trial_values = oracle.populate_space(str(i))["values"]
        trial_hp = hp.copy()
        trial_hp.values = dict(trial_values)
        values = space.build(trial_hp)
        assert ("recurrent_dropout" in values) == (values["cell"] == "gru")
        seen.add(values["cell"])
    assert seen == {"lstm", "gru"}


# -- narrowing -----------------------------------------------------------------------------


def test_narrow_cuts_sequence_lengths_and_says_what():
    space = load_space("default", task="classification")
    narrowed, messages = space.narrow(max_sequence_length=150)
    assert narrowed["sequence_length"].values == (64, 128, 150)
    assert messages == [
        "sequence_length: cut 256, 512 (the longest sequence has 150 steps); now capped at 150"
    ]
    assert space["sequence_length"].values == (64, 128, 256, 512)  # original untouched
    assert space.narrow(max_sequence_length=1000) == (space, [])


def test_narrow_never_empties_a_parameter():
    space = load_space({"lookback": [24, 48], "cell": "gru"}, task="forecasting")
    narrowed, messages = space.narrow(max_lookback=10)
    assert narrowed["lookback"].values == (10,)
    assert messages == [
        "lookback: cut 24, 48 (the series allows a lookback of at most 10); now capped at 10"
    ]
    assert narrowed.build(kt.HyperParameters())["lookback"] == 10


@pytest.mark.parametrize(
    ("entry", "expected", "cut"),
    [
        (
            {"type": "int", "min": 8, "max": 64, "default": 48},
            IntDistribution(min=8, max=20, default=20),
            "values above 20 (range was 8..64)",
        ),
        (
            {"type": "int", "min": 32, "max": 64},
            FixedDistribution(value=20),
            "values above 20 (range was 32..64)",
        ),
        (30, FixedDistribution(value=20), "30"),
        ([8, 16], ChoiceDistribution(values=(8, 16)), None),
    ],
)
def test_narrow_ranges_and_fixed(entry, expected, cut):
    narrowed, messages = load_space({"lookback": entry}, task="forecasting").narrow(max_lookback=20)
    assert narrowed["lookback"] == expected
    assert messages == (
        []
        if cut is None
        else [f"lookback: cut {cut} (the series allows a lookback of at most 20); now capped at 20"]
    )


def test_a_default_that_narrowing_cuts_becomes_the_cap():
    # The shipped classification space starts at sequence_length=512, "all of it": on
    # GunPoint's 150 steps the first trial must see all 150, not the first choice (64).
    space = load_space("default", task="classification")
    assert space["sequence_length"].default == 512
    narrowed, _ = space.narrow(max_sequence_length=150)
    assert narrowed["sequence_length"].values == (64, 128, 150)
    assert narrowed["sequence_length"].default == 150
    assert narrowed.build(kt.HyperParameters())["sequence_length"] == 150
    kept, _ = load_space({"lookback": {"type": "choice", "values": [4, 8, 48], "default": 8}},
                         task="forecasting").narrow(max_lookback=20)
    assert kept["lookback"].default == 8  # a default the cap keeps stays


def test_narrow_drops_children_whose_condition_can_no_longer_hold():
    space = load_space(
        {
            "sequence_length": [16, 256],
            "stride": {"type": "choice", "values": [4, 8], "when": {"sequence_length": 256}},
        },
        task="classification",
    )
    narrowed, messages = space.narrow(max_sequence_length=100)
    assert narrowed.names == ("sequence_length",)
    assert (
        messages[1]
        == "stride: dropped, its condition {'sequence_length': (256,)} can no longer hold"
    )


def test_narrow_drops_named_parameters_with_the_reason():
    space = load_space({"lookback": [4, 8], "linear_skip": {"type": "bool"}}, task="forecasting")
    narrowed, messages = space.narrow(max_lookback=100, drop={"linear_skip": "no linear path", "units": "x"})
    assert narrowed.names == ("lookback",)
    assert messages == ["linear_skip: dropped (no linear path)"]  # absent names are not reported


def test_narrow_excludes_values_and_fixes_a_choice_left_with_one():
    space = load_space({"difference": [0, 1], "units": {"type": "choice", "values": [8, 16, 32],
                                                        "default": 8}, "cell": "gru"},
                       task="forecasting")
    narrowed, messages = space.narrow(exclude={"difference": ((0,), "it trends"),
                                               "units": ((8, 64), "too small"),
                                               "cell": (("gru",), "asked for")})
    assert narrowed["difference"] == FixedDistribution(value=1)
    assert narrowed["units"].values == (16, 32) and narrowed["units"].default is None
    assert narrowed["cell"] == space["cell"]  # a fixed value is the user's: kept
    assert messages == ["difference: dropped 0 (it trends)", "units: dropped 8 (too small)"]
    # Nothing left would empty the parameter: it is kept as it is.
    assert space.narrow(exclude={"difference": ((0, 1), "x")}) == (space, [])


def test_narrow_rejects_a_bad_limit():
    with pytest.raises(ValueError, match=r"max_lookback must be a positive int, got 0"):
        load_space("quick", task="forecasting").narrow(max_lookback=0)


# -- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", ["default", "quick"])
def test_dict_and_yaml_round_trip(task, name, tmp_path):
    space = load_space(name, task=task)
    assert load_space(space.to_dict(), task=task) == space
    path = tmp_path / "space.yaml"
    path.write_text(space.to_yaml())
    again = load_space(path, task=task)
    assert again == space and again.names == space.names
    assert yaml.safe_load(space.to_yaml()) == space.to_dict()


def test_to_dict_is_long_form_and_omits_defaults():
    space = _conditional_space()
    assert space.to_dict() == {
        "recurrent_dropout": {"type": "choice", "values": [0.0, 0.2], "when": {"cell": ["gru"]}},
        "cell": {"type": "choice", "values": ["lstm", "gru"]},
        "units": {"type": "choice", "values": [4, 8]},
    }


def test_search_space_container_protocol():
    space = _conditional_space()
    assert len(space) == 3 and list(space) == ["cell", "recurrent_dropout", "units"]
    assert "units" in space and "lookback" not in space
    assert "SearchSpace(task='classification'" in repr(space)
    with pytest.raises(SpaceError, match=r"key 'bad name': is not a valid parameter name"):
        SearchSpace({"bad name": FixedDistribution(value=1)}, task="classification")


def test_a_space_pickles_because_the_fitted_search_keeps_it():
    space = load_space("default", task="forecasting")
    again = pickle.loads(pickle.dumps(space))
    assert again == space and again.names == space.names and again.source == "forecasting.yaml"


def test_a_task_section_must_be_a_mapping():
    with pytest.raises(
        SpaceError, match=r"<dict>: key 'forecasting': a task section must be a mapping"
    ):
        load_space({"cell": "gru", "forecasting": [4, 8]}, task="forecasting")


def test_narrow_excludes_values_from_an_int_range_and_a_bool():
    space = load_space({"difference": {"type": "int", "min": 0, "max": 2, "default": 0},
                        "n_layers": {"type": "int", "min": 1, "max": 3},
                        "lookback": {"type": "int", "min": 2, "max": 32, "step": 2,
                                     "sampling": "log"},
                        "log": {"type": "bool"}}, task="forecasting")
    narrowed, messages = space.narrow(exclude={"difference": ((0,), "it trends"),
                                               "n_layers": ((2,), "x"),
                                               "lookback": ((32,), "y"),
                                               "log": ((True,), "z")})
    # Cut from an end: still a range; the default that was cut is gone.
    assert narrowed["difference"] == IntDistribution(min=1, max=2)
    # Cut from inside: a choice of the rest.
    assert narrowed["n_layers"] == ChoiceDistribution(values=(1, 3))
    # A log range with a multiplier keeps its grid.
    assert narrowed["lookback"] == IntDistribution(min=2, max=16, step=2, sampling="log")
    assert narrowed["log"] == FixedDistribution(value=False)
    assert messages == ["difference: dropped 0 (it trends)", "n_layers: dropped 2 (x)",
                        "lookback: dropped 32 (y)", "log: dropped True (z)"]


def test_narrow_leaves_a_float_or_a_long_int_range_as_it_is():
    space = load_space({"units": {"type": "int", "min": 0, "max": 1000},
                        "dropout": {"type": "float", "min": 0.0, "max": 0.5}},
                       task="forecasting")
    assert space.narrow(exclude={"units": ((0,), "x"), "dropout": ((0.0,), "y")}) == (space, [])


def test_narrow_tells_a_bool_from_the_int_it_equals():
    # True == 1 in Python: excluding the int 1 must not drop True, nor True the int 1.
    space = load_space({"log": {"type": "bool"}, "difference": [0, 1, 2]}, task="forecasting")
    narrowed, messages = space.narrow(exclude={"log": ((1,), "x"), "difference": ((True,), "y")})
    assert (narrowed, messages) == (space, [])
    narrowed, messages = space.narrow(exclude={"log": ((False,), "x"), "difference": ((1,), "y")})
    assert narrowed["log"] == FixedDistribution(value=True)
    assert narrowed["difference"] == ChoiceDistribution(values=(0, 2))
    assert messages == ["log: dropped False (x)", "difference: dropped 1 (y)"]
