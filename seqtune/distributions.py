"""How one parameter is searched: validated value objects, as Optuna's distributions.

Each entry of a search space (:mod:`seqtune.spaces`) becomes one of these frozen
dataclasses. They are validated when built (raising :class:`SpaceError` with the
accepted form), compared by value, turned back into their file form by ``to_dict``,
and registered on a ``keras_tuner.HyperParameters`` by ``register``:

* ``{type: int, min, max, step?, sampling?, default?}`` → :class:`IntDistribution`
* ``{type: float, min, max, step?, sampling?, default?}`` → :class:`FloatDistribution`
* ``{type: choice, values: [...], default?}`` (a bare list) → :class:`ChoiceDistribution`
* ``{type: bool, default?}`` → :class:`BoolDistribution`
* ``{type: fixed, value: ...}`` (a bare scalar) → :class:`FixedDistribution`

Any of them may carry ``when: {parent: [values]}``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from .validation import did_you_mean

__all__ = [
    "BoolDistribution",
    "ChoiceDistribution",
    "Distribution",
    "FixedDistribution",
    "FloatDistribution",
    "IntDistribution",
    "SpaceError",
    "parse_distribution",
]

_SAMPLINGS = ("linear", "log", "reverse_log")
_SCALARS = (bool, int, float, str)  # what keras_tuner Choice/Fixed accept


class SpaceError(ValueError):
    """A search space is malformed or does not fit the estimator or task."""


def _hint(word: str, options: list[str] | tuple[str, ...]) -> str:
    close = did_you_mean(word, options)
    return f"; did you mean {close!r}?" if close else ""


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


def parse_distribution(raw: Any) -> Distribution:
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
