"""The XGLUE / XTREME cross-lingual task specs: names, labels, languages and file layouts.

Pure data with no heavy imports, listed by the task registry (``sdp.data.tasks`` imports
:data:`XGLUE_SPECS`), so the config check (sdp/validate.py) names every task before torch or datasets load.
Readers live in ``sdp.data.xglue``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sdp.data.spec import TaskSpec

NS_PLACEHOLDER = "NS"
XGLUE_HUB = "microsoft/xglue"

# Languages of each XGLUE task (as in the official loader), English first.
XGLUE_LANGUAGES: dict[str, tuple[str, ...]] = {
    "xnli": ("en", "ar", "bg", "de", "el", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"),
    "pawsx": ("en", "de", "es", "fr"),
    "nc": ("en", "de", "es", "fr", "ru"),
    "qadsm": ("en", "de", "fr"),
    "wpr": ("en", "de", "es", "fr", "it", "pt", "zh"),
    "qam": ("en", "de", "fr"),
}
XTREME_XNLI_LANGUAGES = ("en", "ar", "bg", "de", "el", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
XTREME_PAWSX_LANGUAGES = ("en", "de", "es", "fr", "ja", "ko", "zh")


@dataclass(frozen=True)
class CrossLingualInfo:
    """How a cross-lingual task's files look (beyond :class:`TaskSpec`).

    ``columns`` name the file columns in order: text fields, ``label``, ``id`` or ``_`` (ignored);
    ``joined`` builds a text field from several columns; ``label_map`` maps raw label strings to label
    names; ``test_languages`` are the languages with a labelled test split in this source.
    """

    columns: tuple[str, ...]
    files: dict[str, str]  # official layout: train / dev / test file patterns ("{}" = language)
    label_map: dict[str, str] = field(default_factory=dict)
    joined: dict[str, tuple[str, ...]] = field(default_factory=dict)
    hub_label: str = "label"
    drop_ns: bool = False
    test_languages: tuple[str, ...] = ()
    small: bool = False  # the XTREME half/half zero-shot setting


XTASKS: dict[str, CrossLingualInfo] = {}
XGLUE_SPECS: list[TaskSpec] = []  # in declaration order; sdp.data.tasks registers them after the GLUE tasks



def _eval_splits(languages: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"validation.{lang}" for lang in languages)


# ------------------------------------------------------------------------------------------ registration


def _register(spec: TaskSpec, info: CrossLingualInfo) -> None:
    XGLUE_SPECS.append(spec)
    XTASKS[spec.name] = info


_XNLI_LABELS = ("entailment", "neutral", "contradiction")
_PAWSX_LABELS = ("different", "same")
_PAWSX_MAP = {"0": "different", "1": "same"}


def _xglue_files(name: str) -> dict[str, str]:
    return {"train": f"xglue.{name}.en.train", "dev": f"xglue.{name}.{{}}.dev", "test": f"xglue.{name}.{{}}.test"}


def _xglue_task(name: str, hub_name: str, folder: str, text_fields, labels, metric: str = "accuracy") -> TaskSpec:
    langs = XGLUE_LANGUAGES[name]
    return TaskSpec(
        name=name,
        text_fields=text_fields,
        label_names=labels,
        metric_names=(metric,),
        train_split="train",
        eval_splits=_eval_splits(langs),
        hub_path=XGLUE_HUB,
        hub_name=hub_name,
        local_subdir=folder,
        source="xglue",
        languages=langs,
        local_split_files=(),
    )


_register(
    _xglue_task("xnli", "xnli", "XNLI", ("premise", "hypothesis"), _XNLI_LABELS),
    CrossLingualInfo(
        columns=("premise", "hypothesis", "label"),
        files={"train": "multinli.train.en.tsv", "dev": "{}.dev", "test": "{}.test"},
        label_map={"contradictory": "contradiction"},
        test_languages=XGLUE_LANGUAGES["xnli"],
    ),
)
_register(
    _xglue_task("pawsx", "paws-x", "PAWSX", ("sentence1", "sentence2"), _PAWSX_LABELS),
    CrossLingualInfo(
        columns=("id", "sentence1", "sentence2", "label"),
        files={"train": "en/train.tsv", "dev": "{}/dev_2k.tsv", "test": "{}/test_2k.tsv"},
        label_map=_PAWSX_MAP,
        drop_ns=True,
        test_languages=XGLUE_LANGUAGES["pawsx"],
    ),
)
_register(
    _xglue_task(
        "nc", "nc", "NC", ("news_title", "news_body"),
        ("foodanddrink", "sports", "travel", "finance", "lifestyle", "news", "entertainment", "health",
         "video", "autos"),
    ),
    CrossLingualInfo(columns=("news_title", "news_body", "label"), files=_xglue_files("nc"),
                     hub_label="news_category", test_languages=XGLUE_LANGUAGES["nc"]),
)
_register(
    _xglue_task("qadsm", "qadsm", "QADSM", ("query", "ad"), ("Bad", "Good")),
    CrossLingualInfo(columns=("query", "ad_title", "ad_description", "label"), files=_xglue_files("qadsm"),
                     joined={"ad": ("ad_title", "ad_description")}, hub_label="relevance_label",
                     test_languages=XGLUE_LANGUAGES["qadsm"]),
)
_register(
    _xglue_task("qam", "qam", "QAM", ("question", "answer"), ("False", "True")),
    CrossLingualInfo(columns=("question", "answer", "label"), files=_xglue_files("qam"),
                     label_map={"0": "False", "1": "True"}, test_languages=XGLUE_LANGUAGES["qam"]),
)
_register(
    _xglue_task("wpr", "wpr", "WPR", ("query", "web_page"), ("Bad", "Fair", "Good", "Excellent", "Perfect"),
                metric="ndcg"),
    CrossLingualInfo(columns=("query", "web_page_title", "web_page_snippet", "label"), files=_xglue_files("wpr"),
                     joined={"web_page": ("web_page_title", "web_page_snippet")},
                     label_map={"0": "Bad", "1": "Fair", "2": "Good", "3": "Excellent", "4": "Perfect"},
                     hub_label="relavance_label",  # sic, the Hub's spelling
                     test_languages=XGLUE_LANGUAGES["wpr"]),
)

# The small XTREME-file zero-shot settings (no Hub, no XGLUE download): see the module docstring.
_register(
    TaskSpec(
        name="xnli_small",
        text_fields=("premise", "hypothesis"),
        label_names=_XNLI_LABELS,
        metric_names=("accuracy",),
        eval_splits=_eval_splits(XTREME_XNLI_LANGUAGES),
        hub_path="",
        local_subdir="xnli",
        source="xtreme",
        languages=XTREME_XNLI_LANGUAGES,
        local_split_files=(),
    ),
    CrossLingualInfo(columns=("premise", "hypothesis", "label"), files={}, test_languages=("de",), small=True),
)
_register(
    TaskSpec(
        name="pawsx_small",
        text_fields=("sentence1", "sentence2"),
        label_names=_PAWSX_LABELS,
        metric_names=("accuracy",),
        eval_splits=_eval_splits(XTREME_PAWSX_LANGUAGES),
        hub_path="",
        local_subdir="paws-x",
        source="xtreme",
        languages=XTREME_PAWSX_LANGUAGES,
        local_split_files=(),
    ),
    CrossLingualInfo(columns=("sentence1", "sentence2", "label"), files={}, label_map=_PAWSX_MAP, drop_ns=True,
                     test_languages=("de", "zh"), small=True),
)
