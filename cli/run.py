"""sdp-run: fine-tune, then iteratively magnitude-prune with self-distillation.

    sdp-run task=mrpc sparsity=0.9
    sdp-run -m task=rte,mrpc sparsity=0.5,0.9 regularizer=none,cross_correlation
    accelerate launch --multi_gpu --num_processes 2 -m sdp.cli.run task=sst2

Only Hydra and the config schema are imported at module level: `--help` and shell tab completion go
through this module, and torch/transformers would add seconds to each (sdp.sweep is imported in main).
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.plugins import Plugins
from omegaconf import DictConfig

import sdp.config  # noqa: F401  (registers the structured schema before Hydra composes)
from hydra_plugins.sdp_launcher.local_launcher import SdpLocalLauncher  # imports hydra only
from sdp.command_line import (
    conf_groups,
    deletion_errors,
    misspelt_key_errors,
    repeated_sweep_errors,
    sweeper_params_errors,
    unreadable_override_errors,
)
from sdp.errors import ConfigError, SearchError, user_errors
from sdp.gpu_placement import jobs_per_gpu  # standard library only
from sdp.objectives.registry import load_plugins
from sdp.run.launch import check_rank_in_world, rank_argv  # standard library only

# hydra/launcher=local's class (sdp/local_launch.py), registered by hand: Hydra finds plugins by listing the
# hydra_plugins folders on sys.path, and an editable install's import hook hides this one from that listing.
Plugins.instance().register(SdpLocalLauncher)

# A rank its launcher's world does not hold (a job script's RANK=1 in one process) is refused before anything reads
# it: the run went on as rank 1, with no RESULT line, run.log or lock (probe round 47, rk1, lr1, rk2, rk4).
if not {"--help", "-h", "--hydra-help", "--info", "--cfg", "-c"} & set(sys.argv[1:]):  # asking runs nothing (review)
    with user_errors():
        check_rank_in_world()
# Before Hydra reads argv (both as `python -m cli.run` and as the sdp-run script): on ranks > 0 of a
# launch, Hydra's folders go to a throw-away place; every rank uses rank 0's run directory (sdp/sweep.py).
sys.argv[:] = rank_argv(sys.argv)

# The user's components ($SDP_PLUGINS, the sdp.plugins entry points) join the registries before Hydra composes,
# so `regularizer=<theirs>` composes and validates like a built-in (docs/plugins.md).
with user_errors():
    load_plugins()
    # Hydra's own help composes Hydra's config alone: `sdp-run debug=smoke --hydra-help` was a traceback (Could not
    # override 'debug'; round 31, noticed). Its text does not depend on sdp's keys, so they are left out (a flag's
    # value, --config-dir d, stays).
    if "--hydra-help" in sys.argv[1:]:
        sys.argv[1:] = [a for a in sys.argv[1:] if a.startswith("-") or "=" not in a or a.lstrip("+").startswith("hydra")]
    if unreadable_override_errors(sys.argv[1:]):  # Hydra's grammar error named neither the override nor the quoting
        raise ConfigError("; ".join(unreadable_override_errors(sys.argv[1:])))
    # Not for Hydra's tab completion: `--shell-completion install=bash` (README) was refused as a mistyped key
    completing = any(a in ("-sc", "--shell-completion") for a in sys.argv[1:])  # (probe round 31, sc1)
    if not completing and misspelt_key_errors(sys.argv[1:], conf_groups()):  # Hydra suggested a '+' nothing reads
        raise ConfigError("; ".join(misspelt_key_errors(sys.argv[1:], conf_groups())))
    if deletion_errors(sys.argv[1:]):  # ~sparsity, ~regularizer: a traceback from inside Hydra otherwise
        raise ConfigError("; ".join(deletion_errors(sys.argv[1:])))
    if repeated_sweep_errors(sys.argv[1:]):  # -m seed=1,2 seed=3: Hydra would run seed 3 alone, without a word
        raise ConfigError("; ".join(repeated_sweep_errors(sys.argv[1:])))
    if any(a.lstrip("+") == "hydra/launcher=gpu" for a in sys.argv[1:]):  # in the launcher's resolver: a traceback
        jobs_per_gpu()
    if sweeper_params_errors(sys.argv[1:]):  # a traceback from inside Hydra otherwise
        raise ConfigError("; ".join(sweeper_params_errors(sys.argv[1:])))

# Optuna's sweeper, once every trial has failed (each job's one line already printed), asks for the best trial and
# raises this; Hydra prints it as a 40-line traceback after the real reasons (probe round 13, a03).
NO_TRIAL_COMPLETED = "No trials are completed yet."


def say_a_search_without_result_in_one_line() -> None:
    """Wrap the Optuna sweeper's ``sweep`` (imported only for a search: it loads optuna) so that a search none of
    whose trials completed ends in one line and exit 2 (SystemExit passes through Hydra's error printing)."""
    if not any("optuna" in a for a in sys.argv[1:]):
        return
    try:
        from hydra_plugins.hydra_optuna_sweeper import _impl
    except ImportError:  # the [optuna] extra is missing: Hydra says so itself
        return
    original = _impl.OptunaSweeperImpl.sweep

    def sweep(self, arguments):
        try:
            return original(self, arguments)
        except ValueError as exc:
            if str(exc) != NO_TRIAL_COMPLETED:
                raise
            with user_errors():
                raise SearchError("no trial of the hyperparameter search completed, so there is no best setting: "
                                  "each trial's error is its 'job failed' line above (and error.txt in its "
                                  "folder)") from None

    _impl.OptunaSweeperImpl.sweep = sweep


say_a_search_without_result_in_one_line()


def config_path() -> str:
    """The config tree: ``pkg://sdp.conf`` when installed from a wheel (conf/ ships as the package
    sdp.conf), else the repository's top-level conf/ (a source checkout run as ``python -m cli.run``).
    Absolute either way: a relative path resolves as a Python package when run as the script."""
    if __package__ == "sdp.cli":
        return "pkg://sdp.conf"
    return str(Path(__file__).resolve().parents[1] / "conf")


@hydra.main(config_path=config_path(), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    """Returns the final dev main score, the value Hydra sweepers optimise; None for a failed job of a multirun
    (its error is in <run dir>/error.txt and the sweep goes on, see sdp/sweep.py): Optuna records None as a
    failed trial and goes on, where a NaN stopped the whole search at the first failure."""
    from sdp.sweep import run_job  # heavy (torch, transformers): only once a job really runs

    with user_errors(verbose=cfg.get("verbose", False)):  # one clean line and exit 2, no traceback
        metrics = run_job(cfg)
    return None if metrics is None else metrics["final"]["main"]


if __name__ == "__main__":
    main()
