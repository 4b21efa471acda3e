"""sdp/validate.py holds the allowed values without importing the registries (they import torch):
its lists must stay the registries' keys."""

from __future__ import annotations

from sdp import validate
from sdp.objectives.distill import DISTILLATION_TERMS
from sdp.objectives.representations import REPRESENTATIONS
from sdp.objectives.teacher import CACHE_MODES, TEACHER_MODES
from sdp.objectives.weight import WEIGHT_REGULARIZERS
from sdp.pruning.masks import SCOPES


def test_choice_lists_match_the_registries():
    assert sorted(validate.REGULARIZERS) == sorted(DISTILLATION_TERMS)
    assert sorted(validate.REPRESENTATIONS) == sorted(REPRESENTATIONS)
    assert sorted(validate.WEIGHT_REGULARIZERS) == sorted(WEIGHT_REGULARIZERS)
    assert tuple(validate.TEACHER_MODES) == tuple(TEACHER_MODES)
    assert tuple(validate.CACHE_MODES) == tuple(CACHE_MODES)
    assert tuple(validate.SCOPES) == tuple(SCOPES)


def test_new_choice_lists_match_their_modules():
    from sdp.objectives.cross_correlation import OFF_TARGETS
    from sdp.objectives.monitor import DROPOUT_MODES

    assert tuple(validate.OFF_TARGETS) == tuple(OFF_TARGETS)
    assert tuple(validate.DROPOUT_MODES) == tuple(DROPOUT_MODES)


def test_term_option_lists_match_the_constructors():
    from sdp.objectives.options import term_options_of

    for name in DISTILLATION_TERMS:
        assert validate.TERM_OPTIONS["regularizer"][name] == term_options_of(DISTILLATION_TERMS, name), name
    for name in WEIGHT_REGULARIZERS:
        assert validate.TERM_OPTIONS["weight_reg"][name] == term_options_of(WEIGHT_REGULARIZERS, name), name
