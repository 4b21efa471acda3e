"""sdp/validate.py holds the allowed values without importing the registries (they import torch):
its lists must stay the registries' keys. The method components (regularizer, weight_reg) have no list there:
validation reads their registry (sdp/objectives/registry.py), which imports no torch."""

from __future__ import annotations

from sdp import validate
from sdp.objectives.representations import REPRESENTATIONS
from sdp.objectives.teacher import CACHE_MODES, TEACHER_MODES
from sdp.pruning.masks import SCOPES


def test_choice_lists_match_the_registries():
    assert sorted(validate.REPRESENTATIONS) == sorted(REPRESENTATIONS)
    assert tuple(validate.TEACHER_MODES) == tuple(TEACHER_MODES)
    assert tuple(validate.CACHE_MODES) == tuple(CACHE_MODES)
    assert tuple(validate.SCOPES) == tuple(SCOPES)


def test_new_choice_lists_match_their_modules():
    from sdp.objectives.cross_correlation import OFF_TARGETS
    from sdp.objectives.monitor import DROPOUT_MODES

    assert tuple(validate.OFF_TARGETS) == tuple(OFF_TARGETS)
    assert tuple(validate.DROPOUT_MODES) == tuple(DROPOUT_MODES)


def test_the_component_registries_import_no_torch():
    import subprocess
    import sys

    code = "import sys, sdp.validate, sdp.objectives.registry as r; print(len(r.DISTILL_TERMS.names()), 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["5", "False"]
