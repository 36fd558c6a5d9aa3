"""A component's options as a typed dataclass: defaults, types, bounds and choices in one place.

Every registered component (a loss term, a schedule, an optimiser) declares its options as
a subclass of `Options`, with `option(...)` fields:

    @dataclass
    class KDOptions(Options):
        T: float = option(4.0, low=0, low_open=True, noun="a temperature")
        alpha: float = option(0.9, low=0, high=1)
        t2_scale: bool = True

`Options.parse(raw, where)` is the one validator both the plan (`spec.resolve`, so a typo
fails in a second) and the engine (a config built by hand) call, so a key means the same
and fails with the same one line everywhere. No torch here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar

from kdsweep.errors import UserError, did_you_mean

REQUIRED = "<required>"  # a default the user must replace

_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
               list: "a list", dict: "a mapping"}


def option(default: Any = REQUIRED, *, types: tuple[type, ...] | None = None, low: float | None = None,
           high: float | None = None, low_open: bool = False, high_open: bool = False, integer: bool = False,
           choices: tuple[str, ...] | None = None, noun: str | None = None, free: bool = False) -> Any:
    """A dataclass field with its checks. `types` is needed only where the default is None or
    does not say the type; `noun` names the value in errors ("a learning rate"); `free`: a
    mapping whose inner keys are not checked."""
    meta = {"types": types, "low": low, "high": high, "low_open": low_open, "high_open": high_open,
            "integer": integer, "choices": choices, "noun": noun, "free": free}
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def expected(types: tuple[type, ...]) -> str:
    if set(types) == {int, float}:
        return "a number"
    return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)


def types_of(default: Any) -> tuple[type, ...] | None:
    """The types a default implies (a float default accepts ints); None when it says nothing."""
    if default is None or default == REQUIRED:
        return None
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, float):
        return (int, float)
    return (type(default),)


def _yaml_float(text: str) -> str:
    """How to write a number YAML reads as text: e-notation needs a dot and a signed exponent."""
    mantissa, _, exponent = text.strip().lower().partition("e")
    if not exponent:
        return "write it as a plain number"
    mantissa = mantissa if "." in mantissa else mantissa + ".0"
    exponent = exponent if exponent[0] in "+-" else "+" + exponent
    return f"e-notation needs a dot and a signed exponent: write {mantissa}e{exponent}"


def check_type(value: Any, types: tuple[type, ...], where: str) -> None:
    """UserError unless `value` (not None) is one of `types`; a bool is no number."""
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if ok:
        return
    hint = ""
    if isinstance(value, str) and float in types:
        try:
            float(value)
            hint = f" (YAML reads {value} as text; {_yaml_float(value)})"
        except ValueError:
            pass
    raise UserError(f"expected {expected(types)}, got {value!r}{hint}", where=where)


def check_number(value: Any, where: str, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, integer: bool = False,
                 noun: str | None = None) -> None:
    """The one bounds check: a finite real (or integer) within bounds, else a UserError saying which."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer:
        ok = float(value).is_integer()
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if ok:
        return
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {high:g}")
    what = noun or ("an integer" if integer else "a number")
    raise UserError(f"expected {what}{' ' if bounds else ''}{' and '.join(bounds)}, got {value!r}", where=where)


def check_choice(value: Any, choices: tuple[str, ...], where: str) -> None:
    if value in choices:
        return
    shown = " or ".join(repr(c) for c in choices) if len(choices) == 2 else f"one of {', '.join(choices)}"
    raise UserError(f"expected {shown}, got {value!r}", where=where)


@dataclasses.dataclass
class Options:
    """Base of every component's options; subclasses are dataclasses of `option(...)` fields.

    Override `check(where)` for rules across fields (milestones that increase, Nesterov
    without momentum); single fields are checked from their `option(...)` declaration.
    """

    label: ClassVar[str] = ""  # how errors name the owner, e.g. "schedule 'multistep'"

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Field name -> default (REQUIRED where the user must give it), in declaration order."""
        out = {}
        for f in dataclasses.fields(cls):
            out[f.name] = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        return out

    @classmethod
    def parse(cls, raw: Any, where: str) -> Options:
        """Validated options from a config mapping; absent or null keys take their default."""
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise UserError(f"expected a mapping, got {raw!r}", where=where)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key in raw:
            if key not in fields:
                raise UserError(f"unknown key {key!r}; {did_you_mean(key, fields) if fields else 'it takes none'}",
                                where=f"{where}.{key}")
        values = {}
        defaults = cls.defaults()
        for name, f in fields.items():
            at = f"{where}.{name}"
            value = raw.get(name)
            if value is None:  # absent or null: a sweep's `null` removes a key, so its default applies
                value = defaults[name]
            if isinstance(value, str) and value == REQUIRED:
                owner = f" ({cls.label} needs it)" if cls.label else ""
                raise UserError(f"is required{owner}", where=at)
            _check_field(value, f, at)
            values[name] = value
        opts = cls(**values)
        opts.check(where)
        return opts

    def check(self, where: str) -> None:
        """Rules across fields; the default has none."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _check_field(value: Any, f: dataclasses.Field, where: str) -> None:
    if value is None:
        return
    meta = f.metadata
    types = meta.get("types") or types_of(f.default_factory() if f.default_factory is not dataclasses.MISSING
                                          else f.default)
    if types:
        check_type(value, types, where)
    if meta.get("choices"):
        check_choice(value, meta["choices"], where)
    bounded = any(meta.get(k) is not None for k in ("low", "high")) or meta.get("integer")
    if bounded and isinstance(value, int | float):
        check_number(value, where, low=meta["low"], high=meta["high"], low_open=meta["low_open"],
                     high_open=meta["high_open"], integer=meta["integer"], noun=meta["noun"])


def layer_name(value: Any, where: str) -> str:
    """A hooked module's name; checked here, found (or not) when the model is built."""
    if not isinstance(value, str):
        raise UserError(f"expected a module name (as model.named_modules() prints it), got {value!r}",
                        where=where)
    return value
