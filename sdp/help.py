"""What ``sdp-run --help`` lists under "Options per group" (conf/hydra/help/sdp.yaml's ``${sdp_help_groups:}``):
each config group a user chooses from with its options, then the keys whose values are names from a registry
rather than a group (``prune.criterion``), so a plug-in's criterion is listed beside the built-ins."""

from __future__ import annotations

HIDDEN_GROUPS = ("hydra", "component")  # component/<group>/<name>: the nodes conf/<group>/*.yaml include


def help_groups() -> str:
    """The groups and their options, then the named keys. Hydra's $APP_CONFIG_GROUPS listed the component/ groups
    too, which are the nodes the group files include, not a choice (``component/regularizer=kd`` composes a
    second, unread regularizer); and ``prune.criterion`` is a key, so no group listed its names."""
    from hydra.core.global_hydra import GlobalHydra

    loader, lines = GlobalHydra.instance().config_loader(), []

    def walk(parent: str) -> None:
        for group in sorted(loader.list_groups(parent)):
            path = f"{parent}/{group}" if parent else group
            if path.split("/")[0] in HIDDEN_GROUPS:
                continue
            if options := loader.get_group_options(path):
                lines.append(f"{path}: {', '.join(options)}")
            walk(path)

    walk("")
    return "\n".join([*lines, *criterion_lines()])


def criterion_lines() -> list[str]:
    """``prune.granularity`` and, per granularity, the registered criteria that rank it (its default first)."""
    from sdp.objectives.registry import CRITERIA
    from sdp.pruning.criteria.base import DEFAULT_CRITERION, GRANULARITIES

    lines = [f"prune.granularity: {', '.join(GRANULARITIES)} (null: unstructured)"]
    for granularity in GRANULARITIES:
        names = [n for n in CRITERIA.names() if granularity in CRITERIA.entry(n).cls.granularities]
        default = DEFAULT_CRITERION[granularity]
        names = [f"{default} (null's choice)", *sorted(n for n in names if n != default)]
        lines.append(f"prune.criterion with {granularity}: {', '.join(names)}")
    return lines
