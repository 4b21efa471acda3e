"""Which options a distillation term or weight regularizer takes: its constructor's arguments.

The config groups ``regularizer`` and ``weight_reg`` share one schema node each, so an option set for
another term (``regularizer=kd regularizer.lambda_off=0.1``) must be refused here, not dropped.
"""

from __future__ import annotations

import inspect
from typing import Any


def term_options_of(terms: dict[str, type], name: str) -> tuple[str, ...]:
    """The constructor arguments of term ``name`` of registry ``terms``: the options it takes."""
    return tuple(sorted(set(inspect.signature(terms[name].__init__).parameters) - {"self", "args", "kwargs"}))


def unknown_option_error(group: str, name: str, options: dict[str, Any], allowed: tuple[str, ...]) -> str | None:
    """The message for options that term ``name`` does not take, or None if it takes them all."""
    unknown = sorted(set(options) - set(allowed))
    if not unknown:
        return None
    return (f"{group}={name} does not take {', '.join(f'{group}.{k}' for k in unknown)}; "
            f"its options are {list(allowed)}")


def build_term(group: str, terms: dict[str, type], name: str, options: dict[str, Any]) -> Any:
    """``terms[name](**options)``: a clear error for an unknown name, or an option the term does not take."""
    if name not in terms:
        raise ValueError(f"unknown {group} {name!r}; allowed: {sorted(terms)}")
    error = unknown_option_error(group, name, options, term_options_of(terms, name))
    if error:
        raise ValueError(error)
    return terms[name](**options)
