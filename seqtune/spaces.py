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
import difflib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml

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

TASKS = ("classification", "regression", "forecasting")
# Keys that belong to one kind of estimator only; caught even without an estimator.
_TASK_KEYS = {
    "classification": {"lookback": "sequence_length"},
    "regression": {"lookback": "sequence_length"},
    "forecasting": {"sequence_length": "lookback", "stride": "lookback"},
}
_SAMPLINGS = ("linear", "log", "reverse_log")
_SCALARS = (bool, int, float, str)  # what keras_tuner Choice/Fixed accept


class SpaceError(ValueError):
    """A search space is malformed or does not fit the estimator or task."""


def _hint(word: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Distribution:
    """Base value object: how one parameter is searched, and when it is active.

    Subclasses are frozen dataclasses, validated on construction (raising
    `SpaceError`), compared by value, and turned back into their file form by
    `to_dict`.

    Parameters
    ----------
    when : mapping of str to value or list of values, default={}
        Parent parameter name -> the parent values for which this parameter is
        active. Empty means always active.
    """

    when: Mapping[str, tuple] = dataclasses.field(default_factory=dict)

    type_name: ClassVar[str] = ""
    form: ClassVar[str] = ""  # the accepted form, quoted in error messages

    def __post_init__(self) -> None:
        form = "when: {parent: [values]}"
        if not isinstance(self.when, Mapping):
            self._fail(f"when ({self.when!r}) is not a mapping", form)
        when = {}
        for parent, allowed in self.when.items():
            allowed = tuple(allowed) if isinstance(allowed, (list, tuple)) else (allowed,)
            if not allowed or not all(isinstance(v, _SCALARS) for v in allowed):
                self._fail(
                    f"when.{parent} ({list(allowed)!r}) is not a value or a non-empty list", form
                )
            when[str(parent)] = allowed
        object.__setattr__(self, "when", when)
        self._validate()

    def _validate(self) -> None:  # pragma: no cover - overridden
        pass

    def _fail(self, problem: str, form: str | None = None) -> None:
        raise SpaceError(f"{problem}; expected {form or self.form}")

    def _check_number(self, field: str, *, integer: bool) -> None:
        value = getattr(self, field)
        ok = (
            isinstance(value, int) and not isinstance(value, bool) if integer else _is_number(value)
        )
        if not ok:
            kind = "an integer" if integer else "a number"
            self._fail(f"{field} ({value!r}) is not {kind}")
        if not integer:
            object.__setattr__(self, field, float(value))

    def _check_range(self, integer: bool) -> None:
        for name in ("min", "max"):
            self._check_number(name, integer=integer)
        if self.step is not None:
            self._check_number("step", integer=integer)
        if self.min > self.max:
            self._fail(f"min ({self.min}) is greater than max ({self.max})", "min <= max")
        if self.sampling not in _SAMPLINGS:
            self._fail(
                f"sampling ({self.sampling!r}) is unknown", "sampling: linear|log|reverse_log"
            )
        log = self.sampling != "linear"
        if log and self.min <= 0:
            self._fail(
                f"min ({self.min}) must be > 0 with sampling {self.sampling!r}",
                "min > 0 for log sampling",
            )
        if self.step is not None and self.step <= (1 if log else 0):
            need = "step > 1 (a multiplier) for log sampling" if log else "step > 0"
            self._fail(f"step ({self.step}) is too small", need)
        if self.default is not None:
            self._check_number("default", integer=integer)
        if self.default is not None and not self.min <= self.default <= self.max:
            self._fail(
                f"default ({self.default!r}) is outside [{self.min}, {self.max}]",
                "min <= default <= max",
            )

    @property
    def possible_values(self) -> tuple | None:
        """The finite set of values, or None for a range (used to check ``when``)."""
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict in the long form; omits fields left at their defaults."""
        out: dict[str, Any] = {"type": self.type_name}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name != "when" and value != f.default:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        if self.when:
            out["when"] = {k: list(v) for k, v in self.when.items()}
        return out

    def register(self, hp: Any, name: str) -> Any:
        """Register on a `keras_tuner.HyperParameters`; returns its value or None."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True, kw_only=True)
class IntDistribution(Distribution):
    """Integers in ``[min, max]``; ``step`` is a multiplier with log sampling."""

    min: int
    max: int
    step: int | None = None
    sampling: str = "linear"
    default: int | None = None
    type_name: ClassVar[str] = "int"
    form: ClassVar[str] = "{type: int, min: <int>, max: <int>, step?: <int>, sampling?: linear|log}"

    def _validate(self) -> None:
        self._check_range(integer=True)

    def register(self, hp: Any, name: str) -> Any:
        return hp.Int(
            name, self.min, self.max, step=self.step, sampling=self.sampling, default=self.default
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class FloatDistribution(Distribution):
    """Floats in ``[min, max]``."""

    min: float
    max: float
    step: float | None = None
    sampling: str = "linear"
    default: float | None = None
    type_name: ClassVar[str] = "float"
    form: ClassVar[str] = (
        "{type: float, min: <number>, max: <number>, step?: <number>, sampling?: linear|log}"
    )

    def _validate(self) -> None:
        self._check_range(integer=False)

    def register(self, hp: Any, name: str) -> Any:
        return hp.Float(
            name, self.min, self.max, step=self.step, sampling=self.sampling, default=self.default
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChoiceDistribution(Distribution):
    """One of a list of values (all str, all bool, or all numbers)."""

    values: tuple
    default: Any = None
    type_name: ClassVar[str] = "choice"
    form: ClassVar[str] = (
        "{type: choice, values: [<value>, ...]} or a bare list of numbers, strings or bools"
    )

    def _validate(self) -> None:
        values = self.values
        if not isinstance(values, (list, tuple)) or not values:
            shown = list(values) if isinstance(values, tuple) else values
            self._fail(f"values ({shown!r}) is not a non-empty list")
        if not all(isinstance(v, _SCALARS) for v in values):
            self._fail(
                f"values ({list(values)!r}) holds a value that is not a number, string or bool"
            )
        kinds = {"number" if _is_number(v) else type(v).__name__ for v in values}
        if len(kinds) > 1:
            self._fail(
                f"values ({list(values)!r}) mixes {' and '.join(sorted(kinds))}",
                "values of one kind",
            )
        if any(isinstance(v, float) for v in values):  # keras_tuner wants one type
            values = tuple(float(v) for v in values)
            if _is_number(self.default):
                object.__setattr__(self, "default", float(self.default))
        if len(set(values)) != len(values):
            self._fail(f"values ({list(values)!r}) has duplicates", "each value once")
        object.__setattr__(self, "values", tuple(values))
        if self.default is not None and self.default not in self.values:
            self._fail(
                f"default ({self.default!r}) is not one of {list(self.values)!r}",
                "default in values",
            )

    @property
    def possible_values(self) -> tuple:
        return self.values

    def register(self, hp: Any, name: str) -> Any:
        value = hp.Choice(name, list(self.values), default=self.default)
        # Keras Tuner stores a choice of bools as ints; the estimator wants bools back.
        if all(isinstance(v, bool) for v in self.values):
            return bool(value)
        return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class BoolDistribution(Distribution):
    """True or False."""

    default: bool = False
    type_name: ClassVar[str] = "bool"
    form: ClassVar[str] = "{type: bool, default?: false}"

    def _validate(self) -> None:
        if not isinstance(self.default, bool):
            self._fail(f"default ({self.default!r}) is not a bool")

    @property
    def possible_values(self) -> tuple:
        return (False, True)

    def register(self, hp: Any, name: str) -> Any:
        return hp.Boolean(name, default=self.default)


@dataclasses.dataclass(frozen=True, kw_only=True)
class FixedDistribution(Distribution):
    """A single value, recorded with the trial but not searched."""

    value: Any
    type_name: ClassVar[str] = "fixed"
    form: ClassVar[str] = "{type: fixed, value: <number|string|bool>} or a bare scalar"

    def _validate(self) -> None:
        if not isinstance(self.value, _SCALARS):
            self._fail(f"value ({self.value!r}) is not a number, string or bool")

    @property
    def possible_values(self) -> tuple:
        return (self.value,)

    def register(self, hp: Any, name: str) -> Any:
        return hp.Fixed(name, self.value)


_TYPES: dict[str, type[Distribution]] = {
    cls.type_name: cls
    for cls in (
        IntDistribution,
        FloatDistribution,
        ChoiceDistribution,
        BoolDistribution,
        FixedDistribution,
    )
}


def _parse_value(raw: Any) -> Distribution:
    """Turn one YAML/dict entry into a Distribution (errors carry no location)."""
    if isinstance(raw, list):
        return ChoiceDistribution(values=tuple(raw))
    if not isinstance(raw, Mapping):
        if raw is None:
            raise SpaceError(f"value (None) is empty; expected {FixedDistribution.form}")
        return FixedDistribution(value=raw)
    fields = dict(raw)
    kind = fields.pop("type", None)
    if kind not in _TYPES:
        raise SpaceError(
            f"type ({kind!r}) is unknown{_hint(str(kind), list(_TYPES))}; "
            f"expected type: {'|'.join(_TYPES)}"
        )
    cls = _TYPES[kind]
    allowed = [f.name for f in dataclasses.fields(cls)]
    for field in fields:
        if field not in allowed:
            raise SpaceError(
                f"field {field!r} is unknown{_hint(str(field), allowed)}; expected {cls.form}"
            )
    if kind == "choice" and isinstance(fields.get("values"), list):
        fields["values"] = tuple(fields["values"])
    try:
        return cls(**fields)
    except TypeError:  # a required field is missing
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in fields
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        raise SpaceError(f"missing {', '.join(map(repr, missing))}; expected {cls.form}") from None


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
    ) -> tuple[SearchSpace, list[str]]:
        """Cut values the data (or the fixed estimator) cannot support.

        Values of ``sequence_length`` / ``lookback`` above the limit are removed and the
        limit itself is offered in their place, so the longest usable length stays a
        candidate and no parameter is ever left empty. ``drop`` maps parameters that
        cannot be searched at all to the reason (the estimator keeps its own value).

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


def _clip(dist: Distribution, limit: int) -> tuple[Distribution, str]:
    """Cap a numeric distribution at ``limit``; returns the new one and what was cut.

    The limit itself replaces the cut values, so the longest usable length stays a
    candidate and the parameter is never left empty.
    """
    if isinstance(dist, (IntDistribution, FloatDistribution)):
        if dist.max <= limit:
            return dist, ""
        cut = f"values above {limit} (range was {dist.min}..{dist.max})"
        if dist.min > limit:
            return FixedDistribution(value=type(dist.min)(limit), when=dist.when), cut
        default = dist.default if dist.default is None or dist.default <= limit else None
        return dataclasses.replace(dist, max=type(dist.max)(limit), default=default), cut
    if isinstance(dist, ChoiceDistribution) and all(_is_number(v) for v in dist.values):
        cut = [v for v in dist.values if v > limit]
        if not cut:
            return dist, ""
        kept = [v for v in dist.values if v <= limit]
        kept += [] if limit in kept else [type(cut[0])(limit)]
        default = dist.default if dist.default in kept else None
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
                dist = _parse_value(value)
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
