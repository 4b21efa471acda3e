"""Typed options, declared once: the convention every plug-in component follows (distillation terms and weight
regularizers, sdp/objectives/component.py; pruning criteria, sdp/pruning/criteria/base.py).

A component's ``Options`` dataclass holds its options with their defaults; the class is built with those options
(positionally in field order, or by name), exposes each as an attribute and checks their values in ``check``.
Standard library only, so the pruning package can use it and stay a leaf (tests/test_imports.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass
class NoOptions:
    """The options of a component that takes none."""


class WithOptions:
    """Base of a component with typed ``Options``. An option the component does not take is a TypeError here
    (the registries turn it into a one-line error naming it)."""

    Options: type = NoOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.options = self.Options(*args, **kwargs)
        for f in dataclasses.fields(self.options):
            setattr(self, f.name, getattr(self.options, f.name))
        self.check()

    def check(self) -> None:
        """Raise ValueError for a bad option value (after the options are set as attributes)."""
