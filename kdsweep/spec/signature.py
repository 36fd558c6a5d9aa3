"""A callable's parameters read from its source (`ast`), for checks the plan makes without importing it."""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Signature:
    """A constructor's parameters, the ones without a default, and whether it takes **kwargs."""

    params: tuple[str, ...]
    required: tuple[str, ...]
    any_keyword: bool = False

    @classmethod
    def of(cls, fn: ast.FunctionDef, *, skip_first: bool = False) -> Signature:
        """`skip_first`: a method's `self`."""
        args = fn.args
        positional = [a.arg for a in args.posonlyargs + args.args][1 if skip_first else 0:]
        n_defaults = len(args.defaults)
        required = positional[: len(positional) - n_defaults] if n_defaults else positional
        required += [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None]
        return cls(tuple(positional + [a.arg for a in args.kwonlyargs]), tuple(required), args.kwarg is not None)
