"""A model folder names the tokenizer it was trained with (config.json ``sdp_tokenizer_digest``, by behaviour), and
every load compares it with the tokenizer it is handed. Before, only the padding id was compared: a tokenizer
edited in place (lower-casing off) or a vocabulary of the same size in another order loaded and scored without a
word. Tiny models; nothing trains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _classifier(tokenizer, path: Path, *, record: bool = True) -> Path:
    """A tiny BERT classifier for two labels saved as sdp saves one (``record``: through save_model_dir, which
    records the digest), else by plain save_pretrained (a folder sdp did not write)."""
    from transformers import BertConfig, BertForSequenceClassification

    from sdp.run_summary import save_model_dir

    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, pad_token_id=tokenizer.pad_token_id)
    model = BertForSequenceClassification(config)
    if record:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_model_dir(path, model, tokenizer)
    else:
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
    return path


def _lowercasing_off(folder: Path) -> None:
    """The edit of probe round 6's f02b, in place: the same vocabulary and size, "The" no longer lower-cased."""
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "do_lower_case": False}))
    state = json.loads((folder / "tokenizer.json").read_text())
    state["normalizer"]["lowercase"] = False
    (folder / "tokenizer.json").write_text(json.dumps(state))


def test_the_digest_is_of_behaviour_not_of_paths(tmp_path, tokenizer):
    from transformers import AutoTokenizer

    from sdp.models.tokenizer_digest import tokenizer_digest

    tokenizer.save_pretrained(tmp_path / "a")
    again = AutoTokenizer.from_pretrained(str(tmp_path / "a"))
    assert tokenizer_digest(again) == tokenizer_digest(tokenizer)  # saved elsewhere: the same tokenizer
    _lowercasing_off(tmp_path / "a")
    assert tokenizer_digest(AutoTokenizer.from_pretrained(str(tmp_path / "a"))) != tokenizer_digest(tokenizer)


def test_a_tokenizer_edited_beside_a_saved_model_is_refused(tmp_path, tokenizer):
    from sdp.models.inspect import ModelLoadError
    from sdp.saved_model import load_saved_model

    folder = _classifier(tokenizer, tmp_path / "run" / "model")
    assert json.loads((folder / "config.json").read_text())["sdp_tokenizer_digest"]
    load_saved_model(folder, cpu=True)  # control: its own tokenizer loads
    _lowercasing_off(folder)
    with pytest.raises(ModelLoadError, match=r"model_dir '.*model' was trained with another tokenizer than the one "
                                             r"given \(tokenizer digest [\w-]+, from its config.json"):
        load_saved_model(folder, cpu=True)


def test_a_vocabulary_in_another_order_is_refused(tmp_path, tokenizer):
    """Two ordinary words swap ids: the same size, the same padding id, every id in range."""
    from sdp.models.inspect import ModelLoadError
    from sdp.saved_model import load_saved_model

    folder = _classifier(tokenizer, tmp_path / "run" / "model")
    state = json.loads((folder / "tokenizer.json").read_text())
    vocab = state["model"]["vocab"]
    vocab["the"], vocab["dog"] = vocab["dog"], vocab["the"]
    (folder / "tokenizer.json").write_text(json.dumps(state))
    (folder / "vocab.txt").unlink(missing_ok=True)
    with pytest.raises(ModelLoadError, match="was trained with another tokenizer"):
        load_saved_model(folder, cpu=True)


def test_a_teacher_folder_with_another_tokenizer_is_refused(tmp_path, tokenizer):
    """dense.checkpoint: a folder sdp did not write (no digest recorded) whose own tokenizer files differ from the
    student's. The vocabulary size was all that was compared."""
    from omegaconf import OmegaConf

    from sdp.models.inspect import ModelLoadError
    from sdp.models.presets import load_model

    cfg = OmegaConf.create({"name": "minilm", "trust_remote_code": False})
    teacher = _classifier(tokenizer, tmp_path / "teacher", record=False)
    load_model(cfg, 2, ("a", "b"), tokenizer, checkpoint=str(teacher))  # control: the same tokenizer
    _lowercasing_off(teacher)
    with pytest.raises(ModelLoadError, match=r"dense.checkpoint '.*teacher' was trained with another tokenizer"):
        load_model(cfg, 2, ("a", "b"), tokenizer, checkpoint=str(teacher))


def test_a_tokenizer_edited_to_truncate_on_the_left_is_refused(tmp_path, tokenizer):
    """Probe round 15 left it: a saved tokenizer edited to truncation_side=left scored with the start of each long
    text cut off, where its run cut the end."""
    from sdp.models.inspect import ModelLoadError
    from sdp.saved_model import load_saved_model

    folder = _classifier(tokenizer, tmp_path / "run" / "model")
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "truncation_side": "left"}))
    with pytest.raises(ModelLoadError, match="was trained with another tokenizer"):
        load_saved_model(folder, cpu=True)


def _record(folder: Path, digest: str) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "sdp_tokenizer_digest": digest}))


def test_a_folder_saved_before_the_digest_grew_is_checked_by_its_own_version(tmp_path, tokenizer):
    """Folders saved before the truncation side joined the digest record it bare (v1). Compared with today's digest
    they were all refused as "another tokenizer" (03dcb994... against 75855abd... for their own files); they are
    compared with the given tokenizer's v1 digest, which still tells an edited tokenizer apart."""
    from sdp.models.inspect import ModelLoadError
    from sdp.models.tokenizer_digest import digest_version, tokenizer_digest
    from sdp.saved_model import load_saved_model

    v1 = tokenizer_digest(tokenizer, 1)
    assert digest_version(v1) == 1 and digest_version(tokenizer_digest(tokenizer)) == 2
    assert tokenizer_digest(tokenizer).startswith("v2-") and v1 not in tokenizer_digest(tokenizer)
    folder = _classifier(tokenizer, tmp_path / "run" / "model")
    _record(folder, v1)
    load_saved_model(folder, cpu=True)  # its own tokenizer: loads (was refused)
    _lowercasing_off(folder)
    with pytest.raises(ModelLoadError, match=rf"tokenizer digest {v1}, from its config.json"):
        load_saved_model(folder, cpu=True)


@pytest.mark.parametrize("recorded", ["v9-0123456789abcdef", "not-a-digest", "0123"])
def test_a_digest_of_an_unknown_version_is_refused_by_name(tmp_path, tokenizer, recorded):
    from sdp.models.inspect import ModelLoadError
    from sdp.saved_model import load_saved_model

    folder = _classifier(tokenizer, tmp_path / "run" / "model")
    _record(folder, recorded)
    with pytest.raises(ModelLoadError, match=rf"records tokenizer digest '{recorded}' \(config.json "
                                             r"sdp_tokenizer_digest\), which this sdp cannot read"):
        load_saved_model(folder, cpu=True)
