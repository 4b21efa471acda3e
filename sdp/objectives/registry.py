"""The registries of method components: ``DISTILL_TERMS`` (group ``regularizer``, weight ``alpha``),
``WEIGHT_TERMS`` (group ``weight_reg``, weight ``beta``) and ``CRITERIA`` (the key ``prune.criterion``, options
in ``prune.criterion_options``; each criterion says which ``prune.granularity`` it ranks).

This module imports and registers every built-in component itself, so the registries are the same whatever
was imported before (timm's model registry does the same). Validation, config composition, method naming and
the tables all read these registries, so a new built-in is one file plus one line here.

A user's own component joins without an edit to sdp: a module that calls ``DISTILL_TERMS.register(...)`` (or
``WEIGHT_TERMS``, ``CRITERIA``)
(see docs/plugins.md), named either

- in the ``SDP_PLUGINS`` environment variable (comma-separated module names, importable from the current
  directory or ``PYTHONPATH``), or
- as an entry point of the group ``sdp.plugins`` in the user's installed package;

``load_plugins()`` imports both, and sdp-run and sdp-tables call it before Hydra composes.

A third kind follows the same pattern: a base class in its own light module, a ``Registry(group, weight_key,
base)`` here with its built-ins registered, and its group read from this registry by sdp/validate.py.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points
from typing import Any

from sdp.errors import ConfigError
from sdp.objectives.component import DistillationTerm, Registry, WeightTerm
from sdp.objectives.distill_terms import cosine, cross_correlation, kd, mse, none
from sdp.objectives.weight_terms import cosine as awr_cosine
from sdp.objectives.weight_terms import frobenius as awr_frobenius
from sdp.objectives.weight_terms import none as no_weight
from sdp.pruning.criteria import l2, magnitude, movement, taylor
from sdp.pruning.criteria.base import DEFAULT_CRITERION, Criterion

PLUGINS_ENV = "SDP_PLUGINS"
PLUGIN_GROUP = "sdp.plugins"

# Registration order is the tables' method order (MP, KD, MSE, COS, SDP-CC; AWR-cos, AWR-fro).
DISTILL_TERMS = Registry("regularizer", "alpha", DistillationTerm)
DISTILL_TERMS.register("none", none.NoDistillation, label="MP", weight=0.0, conf_file=True)
DISTILL_TERMS.register("kd", kd.LogitKD, label="KD", conf_file=True)
DISTILL_TERMS.register("mse", mse.RepresentationMSE, label="MSE", conf_file=True)
DISTILL_TERMS.register("cosine", cosine.RepresentationCosine, label="COS", conf_file=True)
DISTILL_TERMS.register("cross_correlation", cross_correlation.CrossCorrelation, label="SDP-CC", conf_file=True)

WEIGHT_TERMS = Registry("weight_reg", "beta", WeightTerm)
WEIGHT_TERMS.register("none", no_weight.NoWeightRegularizer, weight=0.0, conf_file=True)
WEIGHT_TERMS.register("cosine", awr_cosine.CosineAlignment, label="AWR-cos", conf_file=True)
WEIGHT_TERMS.register("frobenius", awr_frobenius.FrobeniusAlignment, label="AWR-fro", conf_file=True)

DISTILL_TERMS.peers, WEIGHT_TERMS.peers = (WEIGHT_TERMS,), (DISTILL_TERMS,)  # one name space of method labels
REGISTRIES = {r.group: r for r in (DISTILL_TERMS, WEIGHT_TERMS)}  # the config groups (validation walks them)

# Pruning criteria: chosen by the key prune.criterion (no config group), labelled in method names when not the
# granularity's default (sdp/objectives/naming.py).
CRITERIA = Registry("prune.criterion", None, Criterion, options_key="prune.criterion_options", compose=False)
CRITERIA.register("magnitude", magnitude.Magnitude)
CRITERIA.register("movement", movement.Movement)
CRITERIA.register("taylor", taylor.Taylor)
CRITERIA.register("l2", l2.L2)


def criteria_for(granularity: str) -> list[str]:
    """The registered criteria that rank ``granularity`` (unstructured | structured), sorted."""
    return sorted(n for n in CRITERIA if granularity in CRITERIA.entry(n).cls.granularities)


def build_criterion(prune: Any) -> Criterion:
    """The criterion a ``prune`` config node names (its granularity's default when prune.criterion is null),
    with prune.criterion_options."""
    name = prune.get("criterion") or DEFAULT_CRITERION[prune.get("granularity") or "unstructured"]
    return CRITERIA.build(name, **dict(prune.get("criterion_options") or {}))


class PluginError(ConfigError):
    """A plug-in module named in $SDP_PLUGINS or an ``sdp.plugins`` entry point that does not import."""


def load_plugins() -> list[str]:
    """Import every plug-in module (``$SDP_PLUGINS``, then the ``sdp.plugins`` entry points); their
    ``register`` calls add them to the registries. Returns the module names, in import order."""
    names = [n.strip() for n in os.environ.get(PLUGINS_ENV, "").split(",") if n.strip()]
    loaded = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise PluginError(f"{PLUGINS_ENV}: cannot import plug-in module {name!r} ({err}); name an importable "
                              "module (its folder on PYTHONPATH)") from err
        except Exception as err:  # the module's own code failed as it ran: it was a traceback from inside sdp
            raise PluginError(f"{PLUGINS_ENV}: plug-in module {name!r} raised {type(err).__name__} while it was "
                              f"imported ({' '.join(str(err).split())[:300]}); fix the module, or leave it out of "
                              f"{PLUGINS_ENV} (verbose=true shows its traceback)") from err
        loaded.append(name)
    for ep in entry_points(group=PLUGIN_GROUP):  # any installed package's, used by this run or not
        try:
            ep.load()
        except Exception as err:  # it was a traceback before any config was read, for every sdp-run (probe round 9)
            dist = getattr(getattr(ep, "dist", None), "name", None)
            raise PluginError(f"entry point {ep.name!r} = {ep.value!r} of group {PLUGIN_GROUP!r}"
                              f"{f' (installed package {dist!r})' if dist else ''} does not load: "
                              f"{type(err).__name__}: {' '.join(str(err).split())[:300]}; fix that package, or "
                              "uninstall it (verbose=true shows its traceback)") from err
        loaded.append(ep.value)
    return loaded
