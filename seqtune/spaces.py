"""Search spaces as data: YAML file or dict -> validated `SearchSpace` -> Keras Tuner.

A space maps estimator parameter names to value objects (Optuna-style distributions):

* ``{type: int, min, max, step?, sampling?, default?}``
* ``{type: float, min, max, step?, sampling?, default?}``
* ``{type: choice, values: [...], default?}`` (a bare list is shorthand)
* ``{type: bool, default?}``
* ``{type: fixed, value: ...}`` (a bare scalar is shorthand)

Any of them may carry ``when: {parent: [values]}``; the parameter is then only
active, through ``keras_tuner.HyperParameters.conditional_scope``, for those values
of ``parent``. A file may also hold per-task sections (``classification:``,
``regression:``, ``forecasting:``) whose keys apply to that task only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from .distributions import (
    BoolDistribution,
    ChoiceDistribution,
    Distribution,
    FixedDistribution,
    FloatDistribution,
    IntDistribution,
    SpaceError,
    _hint,
    _is_number,
    parse_distribution,
)

__all__ = [
    "SpaceError",
    "Distribution",
    "IntDistribution",
    "FloatDistribution",
    "ChoiceDistribution",
    "BoolDistribution",
    "FixedDistribution",
    "SearchSpace",
    "load_space",
    "available_spaces",
]

#: The tasks a space (and a search) can be for, one per kind of seqtune estimator.
TASKS = ("classification", "regression", "forecasting")
# Keys that belong to one kind of estimator only; caught even without an estimator.
_TASK_KEYS = {
    "classification": {"lookback": "sequence_length"},
    "regression": {"lookback": "sequence_length"},
    "forecasting": {"sequence_length": "lookback", "stride": "lookback"},
}


class SearchSpace:
    """A validated, task-specific search space.

    Parameters
    ----------
    params : mapping of str to Distribution
        Estimator parameter name -> how it is searched. Order is kept.
    task : {"classification", "regression", "forecasting"}
    source : str, default="<dict>"
        Where the space came from, used in error messages.
    """

    def __init__(
        self, params: Mapping[str, Distribution], *, task: str, source: str = "<dict>"
    ) -> None:
        if task not in TASKS:
            raise SpaceError(
                f"task ({task!r}) is unknown{_hint(str(task), TASKS)}; expected one of {TASKS}"
            )
        self.task, self.source = task, source
        self._params = dict(params)
        for name, dist in self._params.items():
            if not isinstance(name, str) or not name.isidentifier():
                self._fail(name, "is not a valid parameter name", "an identifier such as 'units'")
            if not isinstance(dist, Distribution):
                self._fail(
                    name, f"({dist!r}) is not a Distribution", "a seqtune.spaces Distribution"
                )
            for parent, allowed in dist.when.items():
                if parent not in self._params:
                    self._fail(
                        name,
                        f"when.{parent} names a key not in the space"
                        + _hint(parent, list(self._params)),
                        "when: {<key of this space>: [values]}",
                    )
                possible = self._params[parent].possible_values
                if possible is None:
                    self._fail(
                        name,
                        f"when.{parent}: {parent!r} is a range",
                        "a choice, bool or fixed parent",
                    )
                bad = [v for v in allowed if v not in possible]
                if bad:
                    self._fail(
                        name,
                        f"when.{parent} ({bad!r}) is not among its values",
                        f"values from {list(possible)!r}",
                    )
        self._order = self._topological_order()

    def _fail(self, key: Any, problem: str, form: str) -> None:
        raise SpaceError(f"{self.source}: key {key!r}: {problem}; expected {form}")

    def _topological_order(self) -> tuple[str, ...]:
        """File order, except that a parent is registered before its children."""
        order: list[str] = []
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in order:
                return
            if name in visiting:
                self._fail(name, "its 'when' conditions form a cycle", "conditions without cycles")
            visiting.add(name)
            for parent in self._params[name].when:
                visit(parent)
            order.append(name)

        for name in self._params:
            visit(name)
        return tuple(order)

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names in registration order (the Keras Tuner hp names)."""
        return self._order

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._params

    def __getitem__(self, name: str) -> Distribution:
        return self._params[name]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SearchSpace):
            return NotImplemented
        return self.task == other.task and self._params == other._params

    def __repr__(self) -> str:
        return f"SearchSpace(task={self.task!r}, source={self.source!r}, names={list(self._order)})"

    def build(self, hp: Any) -> dict[str, Any]:
        """Register every parameter on ``hp`` and return this trial's active values.

        Parameters
        ----------
        hp : keras_tuner.HyperParameters

        Returns
        -------
        dict
            Estimator parameter name -> value; inactive conditional parameters are left out.
        """
        values: dict[str, Any] = {}
        for name in self._order:
            dist = self._params[name]
            with contextlib.ExitStack() as stack:
                for parent, allowed in dist.when.items():
                    stack.enter_context(hp.conditional_scope(parent, list(allowed)))
                value = dist.register(hp, name)
            if value is not None:  # keras_tuner returns None for an inactive parameter
                values[name] = value
        return values

    def narrow(
        self, *, max_sequence_length: int | None = None, max_lookback: int | None = None,
        drop: Mapping[str, str] | None = None,
        exclude: Mapping[str, tuple[tuple, str]] | None = None,
    ) -> tuple[SearchSpace, list[str]]:
        """Cut values the data (or the fixed estimator) cannot support.

        Values of ``sequence_length`` / ``lookback`` above the limit are removed and the
        limit itself is offered in their place, so the longest usable length stays a
        candidate and no parameter is ever left empty. ``drop`` maps parameters that
        cannot be searched at all to the reason (the estimator keeps its own value).
        ``exclude`` maps a parameter to ``(values, reason)``: those values leave its
        choices, bools or int range (a parameter left with one value becomes fixed; an
        int range with a value cut from inside becomes a choice of the rest). One that
        would be left with none, a fixed value (the user asked for it), a float range and
        an int range of more than 64 values are kept as they are.

        Returns
        -------
        space : SearchSpace
            The narrowed space (``self`` values are not modified).
        messages : list of str
            One line per parameter changed, naming what was cut.
        """
        limits = {
            "sequence_length": (max_sequence_length, "the longest sequence has {} steps"),
            "lookback": (max_lookback, "the series allows a lookback of at most {}"),
        }
        params, messages = dict(self._params), []
        for key, (limit, why) in limits.items():
            if limit is None or key not in params:
                continue
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
                raise ValueError(f"max_{key} must be a positive int, got {limit!r}")
            new, cut = _clip(params[key], limit)
            if cut:
                params[key] = new
                messages.append(f"{key}: cut {cut} ({why.format(limit)}); now capped at {limit}")
        for key, why in (drop or {}).items():
            if params.pop(key, None) is not None:
                messages.append(f"{key}: dropped ({why})")
        for key, (values, why) in (exclude or {}).items():
            new, removed = _exclude(params.get(key), values)
            if removed:
                params[key] = new
                messages.append(f"{key}: dropped {removed} ({why})")
        # Conditions that pointed at a removed value lose it; a child left with none is dropped.
        for name in self._order:
            dist = params.get(name)
            if dist is None or not dist.when:
                continue
            when = {}
            for parent, allowed in dist.when.items():
                possible = params[parent].possible_values if parent in params else ()
                when[parent] = tuple(v for v in allowed if v in possible)
            if not all(when.values()):
                del params[name]
                messages.append(
                    f"{name}: dropped, its condition {dict(dist.when)} can no longer hold"
                )
            elif when != dist.when:
                params[name] = dataclasses.replace(dist, when=when)
        return SearchSpace(params, task=self.task, source=self.source), messages

    def to_dict(self) -> dict[str, Any]:
        """Long-form plain dict; ``load_space(space.to_dict(), task=...)`` gives it back."""
        return {name: dist.to_dict() for name, dist in self._params.items()}

    def to_yaml(self) -> str:
        """YAML text of :meth:`to_dict`, headed by a comment naming task and source."""
        lines = [f"# seqtune search space for {self.task} (from {self.source})"]
        for name, entry in self.to_dict().items():  # one line per key, like the shipped files
            flow = yaml.safe_dump(
                entry, sort_keys=False, default_flow_style=True, width=10**6
            ).strip()
            lines.append(f"{name}: {flow}")
        return "\n".join(lines) + "\n"


#: An int range with an excluded value inside it becomes a choice of the rest, up to this many.
_MAX_ENUMERATED = 64


def _exclude(dist: Distribution | None, values: tuple) -> tuple[Distribution | None, str]:
    """Take ``values`` out of a choice, a bool or an int range; returns it and what was cut.

    A parameter left with one value becomes fixed. Nothing is cut (``""``) from a fixed
    value or a float range, from a parameter it would leave empty, or from an int range
    of more than :data:`_MAX_ENUMERATED` values.
    """
    if isinstance(dist, (ChoiceDistribution, BoolDistribution)):
        grid = list(dist.possible_values)
    elif isinstance(dist, IntDistribution):
        grid = _int_grid(dist)
    else:
        return dist, ""
    kept = [v for v in grid if not _among(v, values)]
    if not kept or len(kept) == len(grid):
        return dist, ""
    removed = ", ".join(str(v) for v in grid if _among(v, values))
    default = dist.default if dist.default in kept else None
    if len(kept) == 1:
        return FixedDistribution(value=kept[0], when=dist.when), removed
    if isinstance(dist, ChoiceDistribution):
        return dataclasses.replace(dist, values=tuple(kept), default=default), removed
    if kept == grid[grid.index(kept[0]):][:len(kept)]:  # an int range (a bool keeps one)
        # Cut from either end: still a range, with the same step and sampling.
        return dataclasses.replace(dist, min=kept[0], max=kept[-1], default=default), removed
    return ChoiceDistribution(values=tuple(kept), default=default, when=dist.when), removed


def _among(value: Any, values: tuple) -> bool:
    """``value in values``, except that a bool never equals an int (``True == 1``)."""
    return any(value == v and isinstance(value, bool) == isinstance(v, bool) for v in values)


def _int_grid(dist: IntDistribution) -> list[int]:
    """The values an int range can take (Keras Tuner's grid), or ``[]`` for a long range."""
    if dist.sampling == "linear" or dist.step is None:
        step = dist.step or 1
        if (dist.max - dist.min) // step >= _MAX_ENUMERATED:
            return []
        return list(range(dist.min, dist.max + 1, step))
    grid, value = [], dist.min  # log sampling with a step: a multiplier
    while value <= dist.max:
        if len(grid) == _MAX_ENUMERATED:
            return []
        grid.append(value)
        value *= dist.step
    return grid


def _clip(dist: Distribution, limit: int) -> tuple[Distribution, str]:
    """Cap a numeric distribution at ``limit``; returns the new one and what was cut.

    The limit itself replaces the cut values, so the longest usable length stays a
    candidate and the parameter is never left empty; a default that was cut becomes the
    limit (a default of 512 steps meant "all of them"), so the first trial stays the
    space's own configuration.
    """
    if isinstance(dist, (IntDistribution, FloatDistribution)):
        if dist.max <= limit:
            return dist, ""
        cut = f"values above {limit} (range was {dist.min}..{dist.max})"
        if dist.min > limit:
            return FixedDistribution(value=type(dist.min)(limit), when=dist.when), cut
        default = dist.default if dist.default is None else min(dist.default, type(dist.max)(limit))
        return dataclasses.replace(dist, max=type(dist.max)(limit), default=default), cut
    if isinstance(dist, ChoiceDistribution) and all(_is_number(v) for v in dist.values):
        cut = [v for v in dist.values if v > limit]
        if not cut:
            return dist, ""
        kept = [v for v in dist.values if v <= limit]
        kept += [] if limit in kept else [type(cut[0])(limit)]
        default = (dist.default if dist.default in kept or dist.default is None
                   else type(cut[0])(limit))
        return ChoiceDistribution(values=tuple(kept), default=default, when=dist.when), ", ".join(
            map(str, cut)
        )
    if isinstance(dist, FixedDistribution) and _is_number(dist.value) and dist.value > limit:
        return FixedDistribution(value=type(dist.value)(limit), when=dist.when), str(dist.value)
    return dist, ""


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-3`` as a float (YAML 1.1 wants ``1.0e-3``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
        r"|[0-9][0-9_]*[eE][-+]?[0-9]+|\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _space_dir() -> Path:
    """Installed copy (``seqtune/search_spaces``) first, else the source checkout's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "search_spaces", here.parent / "search_spaces"):
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    raise SpaceError(f"no search_spaces/ directory found next to {here}; reinstall seqtune")


def available_spaces() -> list[str]:
    """Names of the shipped spaces (file stems under ``search_spaces/``), plus "default"."""
    return ["default", *sorted(p.stem for p in _space_dir().glob("*.yaml"))]


def _read(space: str | Path) -> tuple[Any, str]:
    """Load a YAML file given as a path or a shipped name; returns (data, source).

    A str without a directory part or a .yaml/.yml suffix is a shipped name.
    """
    is_name = (
        isinstance(space, str)
        and len(Path(space).parts) == 1
        and Path(space).suffix not in (".yaml", ".yml")
    )
    if is_name:
        names = available_spaces()
        if space not in names:
            raise SpaceError(
                f"space {space!r} is not a shipped space{_hint(space, names)}; "
                f"expected a YAML file path or one of {names}"
            )
        path = _space_dir() / f"{space}.yaml"
        source = path.name
    else:
        path, source = Path(space), str(space)
        if not path.is_file():
            raise SpaceError(f"{source}: no such file; expected a YAML search-space file")
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader), source
    except yaml.YAMLError as exc:
        raise SpaceError(
            f"{source}: not valid YAML ({exc}); expected a mapping of parameter: value"
        ) from None


def _parse(data: Any, *, task: str, source: str) -> dict[str, Distribution]:
    """Validate every entry (other tasks' sections too) and return this task's keys."""
    if not isinstance(data, Mapping) or not data:
        raise SpaceError(
            f"{source}: the space is {'empty' if not data else type(data).__name__}; "
            f"expected a mapping of parameter: value"
        )
    sections: dict[str, dict[str, Distribution]] = {"": {}}
    for key, raw in data.items():
        where = [(key, raw, "")]
        if key in TASKS:
            if not isinstance(raw, Mapping):
                raise SpaceError(
                    f"{source}: key {key!r}: a task section must be a mapping; "
                    f"expected {key}: {{parameter: value}}"
                )
            where = [(f"{key}.{k}", v, key) for k, v in raw.items()]
        for label, value, section in where:
            try:
                dist = parse_distribution(value)
            except SpaceError as exc:
                raise SpaceError(f"{source}: key {label!r}: {exc}") from None
            sections.setdefault(section, {})[label.rsplit(".", 1)[-1]] = dist
    return {**sections[""], **sections.get(task, {})}


def load_space(
    space: str | Path | Mapping | SearchSpace, *, task: str, estimator: Any = None
) -> SearchSpace:
    """Load and validate a search space.

    Parameters
    ----------
    space : str, Path, dict or SearchSpace
        A YAML file path, a shipped name ("default" is the task's default file,
        "quick", or any file stem under ``search_spaces/``), a dict in the file's
        form, or an existing space.
    task : {"classification", "regression", "forecasting"}
    estimator : scikit-learn estimator, optional
        When given, every key must be one of ``estimator.get_params()``.

    Returns
    -------
    SearchSpace

    Raises
    ------
    SpaceError
        Naming the file (or "<dict>"), the key, the bad value and the accepted form.
    """
    if task not in TASKS:
        raise SpaceError(
            f"task ({task!r}) is unknown{_hint(str(task), TASKS)}; expected one of {TASKS}"
        )
    if isinstance(space, SearchSpace):
        if space.task != task:
            raise SpaceError(
                f"{space.source}: the space was built for {space.task!r}, not {task!r}; "
                f"expected load_space(..., task={space.task!r})"
            )
        result = space
    else:
        if isinstance(space, Mapping):
            data, source = space, "<dict>"
        elif isinstance(space, (str, Path)):
            data, source = _read(task if space == "default" else space)
        else:
            raise SpaceError(
                f"space ({space!r}) has an unsupported type; expected a path, a name, a dict or "
                "a SearchSpace"
            )
        result = SearchSpace(_parse(data, task=task, source=source), task=task, source=source)
    for key in result.names:
        if key in _TASK_KEYS[task]:
            raise SpaceError(
                f"{result.source}: key {key!r} is not a {task} parameter; expected "
                f"{_TASK_KEYS[task][key]!r}, or put {key!r} under a task section"
            )
    if estimator is not None:
        accepted = sorted(estimator.get_params())
        for key in result.names:
            if key not in accepted:
                hint = _hint(key, accepted) or f"; expected one of {accepted}"
                raise SpaceError(
                    f"{result.source}: key {key!r} is not a parameter of "
                    f"{type(estimator).__name__}{hint}"
                )
    return result
