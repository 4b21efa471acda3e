"""What a method component is, and the registry of one kind of them (distillation terms, weight regularizers).

A component is one file: its class, whose ``Options`` dataclass holds its typed options with their defaults,
declared once, and one ``register`` into the registry of its kind (sdp/objectives/registry.py lists the
built-ins). The registry is what everything else reads:

- validation (sdp/validate.py): the allowed names, and the options each one takes;
- config composition: each component's ``Options`` (plus ``name`` and the group's loss weight) is stored in
  Hydra's ConfigStore under the group, so ``regularizer=<name>`` composes without a YAML file;
- method names in run records and tables (sdp/objectives/naming.py);
- building the term for a run (sdp/recipe.py).

Nothing here imports torch: the registry is read before Hydra composes, and a config error must come before
torch loads (tests/scale/test_run_integrity.py). Built-in components import torch inside their methods for the
same reason; a user's plug-in need not.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from omegaconf import OmegaConf

from sdp.options import WithOptions


class Component(WithOptions):
    """Base of a distillation term or weight regularizer: ``Options`` is its options dataclass; the class is
    built with those options (positionally in field order, or by name) and exposes each as an attribute.
    An option the component does not take is a TypeError here, and a ValueError naming it in ``build``."""

    # The smallest batch the component can be computed on (a term that standardises over the batch needs 2).
    min_batch: int = 1

    def forward(self, student: Any, teacher: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def __call__(self, student: Any, teacher: Any) -> Any:
        return self.forward(student, teacher)


class DistillationTerm(Component):
    """D(student, teacher; x). ``needs`` names the teacher outputs it reads (``logits`` or a representation
    kind), so the recipe and the teacher cache compute and store only those. Terms should compute in float32,
    whatever the autocast dtype: batch statistics and softmaxes lose too much in bf16/fp16."""

    needs: tuple[str, ...] = ()


class WeightTerm(Component):
    """R(W_student, W_teacher) over the prunable matrices: ``forward(student, teacher)`` takes two mappings
    name -> weight (the masked student's and the teacher's)."""


@dataclass(frozen=True)
class Entry:
    """One registered component: its class, its table name and the default loss weight of its group."""

    name: str
    cls: type
    label: str
    weight: float

    @property
    def options(self) -> tuple[str, ...]:
        return tuple(sorted(f.name for f in dataclasses.fields(self.cls.Options)))


# How sdp/objectives/naming.py composes a method's name from labels, and its name for dense models. Read here, where
# labels are registered (naming.py imports the registries, so it takes these from here, not the other way round).
REPRESENTATION_OPEN, CLOSE = "(", ")"  # a term on another representation than its default: "SDP-CC(mean)"
JOIN = "+"  # a distillation term with a weight term: "SDP-CC+AWR-fro"
CRITERION_OPEN = " ("  # a criterion other than the granularity's default, after the method: "MP (movement)"
DENSE_ONLY = "Dense"  # a stages=dense run, whatever its config's terms
COMPOSING = (REPRESENTATION_OPEN, CLOSE, JOIN)  # CRITERION_OPEN holds REPRESENTATION_OPEN


def label_problem(label: str) -> str | None:
    """Why ``label`` cannot name a component in the tables (None if it can). A plug-in labelled `SDP-CC(mean)`,
    `MP (movement)` or `Dense` was pooled with, or taken for, sdp's own method of that name (probe round 47, plcc,
    plmpm, pldense). Every name naming.py composes from two or more parts holds a character of COMPOSING, so a label
    without one can equal a composed name only as one label alone (the twin check in ``register``) or as "Dense";
    and no name composed from labels without them can equal another's label."""
    if not isinstance(label, str) or not label.strip():
        return f"label {label!r} is not a name"
    from sdp.data.printed_names import print_alike, shows_nothing

    # in any case, or in look-alike letters (a Cyrillic `Dеnse`: review of round 47's fixes)
    if label.casefold() == DENSE_ONLY.casefold() or print_alike([DENSE_ONLY.casefold(), label.casefold()]):
        return f"label {label!r} is sdp's name for dense models"
    held = [c for c in COMPOSING if c in label]
    if held:
        return f"label {label!r} holds {' and '.join(map(repr, held))}, which sdp composes method names with"
    if label != label.strip():  # "MP " prints as MP, and "MP  (movement)" as MP's variant
        return f"label {label!r} begins or ends with a space"
    # a `|` ends a table cell, a line break a table row, a control character acts on a terminal (round 47's lead)
    if bad := [c for c in label if c == "|" or unicodedata.category(c) in ("Cc", "Zl", "Zp")]:
        return f"label {label!r} holds {bad[0]!r}, which breaks sdp's tables (a cell's or a line's end, or a control)"
    if shows_nothing(label):
        return f"label {label!r} shows nothing (invisible characters only)"
    return None


class Registry:
    """The components of one kind, by name, in registration order (the tables' method order too).

    ``group`` is the config group (``regularizer``), ``weight_key`` its loss-weight key (``alpha``; None for a
    kind without one). A third kind (pruning criteria, ``prune.criterion``) is one more instance with its own
    base class, which need only follow the ``Options`` convention of :class:`Component`. ``options_key`` is
    where a component's options are set when that is not the group itself (``prune.criterion_options``), and
    ``compose=False`` says the kind is chosen by a plain key, not a config group: nothing goes to the ConfigStore.
    """

    def __init__(self, group: str, weight_key: str | None, base: type, *, options_key: str | None = None,
                 compose: bool = True) -> None:
        self.group, self.weight_key, self.base = group, weight_key, base
        self.options_key, self.compose = options_key or group, compose
        self._entries: dict[str, Entry] = {}
        # Registries whose labels name a method alone as this one's do (regularizer=none weight_reg=X is "X"): a weight
        # term labelled "MSE" made two methods "MSE", told apart by hash only (probe round 28, lbl).
        self.peers: tuple[Registry, ...] = ()

    def register(self, name: str, cls: type, *, label: str | None = None, weight: float = 1.0,
                 conf_file: bool = False) -> None:
        """Add component ``cls`` as ``name``; ``label`` is its name in the tables (default: ``name``) and
        ``weight`` the default of the group's loss weight when it is chosen. Re-registering the same class is a
        no-op.

        Its config node is stored in Hydra's ConfigStore as ``component/<group>/<name>`` and, so that
        ``<group>=<name>`` composes without a YAML file, as ``<group>/<name>``. ``conf_file=True`` (the
        built-ins) says conf/<group>/<name>.yaml selects it instead: that file includes the node and only
        documents and overrides (a YAML and a ConfigStore node of one name would trip Hydra's deprecated
        automatic schema matching)."""
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"{self.group} {name!r}: {cls!r} is not a subclass of {self.base.__name__}")
        if not dataclasses.is_dataclass(cls.Options):
            raise TypeError(f"{self.group} {name!r}: {cls.__name__}.Options must be a dataclass")
        old = self._entries.get(name)
        if old is not None and old.cls is not cls:
            raise ValueError(f"{self.group} {name!r} is already registered ({old.cls.__module__}.{old.cls.__name__})")
        # A label that reads as a name sdp composes, or as Dense: its runs were pooled with, or tabled as, sdp's own
        # method of that name (probe round 47, plcc, pldense, plmpm).
        problem = label_problem(label or name)
        if problem is not None:
            raise ValueError(f"{self.group} {name!r}: {problem}; a label is a name of its own, without "
                             f"{', '.join(map(repr, COMPOSING))}, not {DENSE_ONLY!r} in any case, e.g. 'L-MSE'")
        # The tables name, pair and judge methods by label: a plug-in labelled "MP" showed as a second MP row, and
        # SDP-CC lost its MP partner, unsaid (probe round 23, p01).
        # A label that prints as another's (a Cyrillic `МР`) is its twin too (round 47's lead)
        from sdp.data.dashes import as_hyphens
        from sdp.data.printed_names import print_alike

        # and in another dash: `SDP‐CC` (U+2010) printed as SDP-CC's row (round 49, pl_hy); `SDP˗CC` (U+02D7) and
        # `SDP⁃CC` (U+2043) too, dashes Unicode's Dash property lacks (probe round 50, pl_modminus, pl_hybullet)
        twin = next(((reg.group, e.name) for reg in (self, *self.peers) for e in reg._entries.values()
                     if (e.label == (label or name) or print_alike([as_hyphens(e.label), as_hyphens(label or name)]))
                     and (reg is not self or e.name != name)), None)
        if twin is not None:
            raise ValueError(f"{self.group} {name!r}: label {label or name!r} is already {twin[0]} {twin[1]!r}'s; the "
                             "tables name methods by label, so give it a label of its own")
        self._entries[name] = entry = Entry(name, cls, label or name, float(weight))
        if not self.compose:
            return
        from hydra.core.config_store import ConfigStore  # hydra is imported only where configs are stored

        node, store = self.config_node(entry), ConfigStore.instance()
        store.store(group=f"component/{self.group}", name=name, node=node, provider="sdp.objectives.registry")
        if not conf_file:
            store.store(group=self.group, name=name, node=node, provider="sdp.objectives.registry")

    def config_node(self, entry: Entry) -> Any:
        """``name``, the loss weight and the typed options with their defaults. Not a struct: an option the
        component does not take can be set on the command line and is then refused by sdp/validate.py with a
        one-line error naming the options it does take (Hydra's own error would not)."""
        fields = [("name", str, dataclasses.field(default=entry.name))]
        if self.weight_key is not None:
            fields.append((self.weight_key, float, dataclasses.field(default=entry.weight)))
        schema = dataclasses.make_dataclass(f"{self.group}_{entry.name}", fields, bases=(entry.cls.Options,))
        node = OmegaConf.structured(schema)
        OmegaConf.set_struct(node, False)
        return node

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def entry(self, name: str) -> Entry:
        if name not in self._entries:
            raise ValueError(f"unknown {self.group} {name!r}; allowed: {sorted(self._entries)}")
        return self._entries[name]

    def unknown_option_error(self, name: str, options: dict[str, Any]) -> str | None:
        """The one-line message for options that ``name`` does not take, or None if it takes them all."""
        allowed = self.entry(name).options
        unknown = sorted(set(options) - set(allowed))
        if not unknown:
            return None
        return (f"{self.group}={name} does not take {', '.join(f'{self.options_key}.{k}' for k in unknown)}; "
                f"its options are {list(allowed)}")

    def build(self, name: str, **options: Any) -> Any:
        """The component ``name`` with ``options`` (its defaults for the rest); a ValueError names an unknown
        name or an option it does not take."""
        entry = self.entry(name)
        error = self.unknown_option_error(name, options)
        if error:
            raise ValueError(error)
        component = entry.cls(**options)
        component.sdp_name = name  # named in the one-line errors about what it returns (objective.py, criteria/base.py)
        return component

    def label(self, name: str, representation: str | None = None) -> str:
        """The table name of ``name``; a component with a ``representation`` option run on another
        representation than its default is labelled with it: ``SDP-CC(mean)``."""
        if name not in self._entries:
            return name  # a run of a component this process has not loaded: named as configured
        entry = self._entries[name]
        default = {f.name: f.default for f in dataclasses.fields(entry.cls.Options)}.get("representation")
        if default is not None and representation is not None and representation != default:
            return f"{entry.label}{REPRESENTATION_OPEN}{representation}{CLOSE}"
        return entry.label
