"""The paper recipes name public hub datasets; offline, a dry run lists the ones it cannot reach.

No test here touches the network: conftest sets HF_HUB_OFFLINE=1, and the online branch of
the reachability question is answered by a stand-in for huggingface_hub's dataset_info.
"""

import json

import httpx
import pytest

from conftest import ROOT, run_cli
from lingualift.core import assets
from lingualift.data.config import Source
from lingualift.data.readers import read, taken_whole
from lingualift.run.recipe import load

UNREACHABLE = "        hub dataset not reachable (offline?): "

# What each paper recipe streams, by stage: the lines its offline dry run must print.
EXPECTED = {
    "llamax": {
        "data": ["HuggingFaceFW/fineweb-2 (swh_Latn)", "Helsinki-NLP/opus-100 (en-sw)"],
        "sft": ["tatsu-lab/alpaca"],
        "eval": ["openlanguagedata/flores_plus"],
    },
    "sambalingo": {
        "vocab": ["openlanguagedata/flores_plus"],
        "data": ["HuggingFaceFW/fineweb-2 (swh_Latn)", "HuggingFaceFW/fineweb (sample-10BT)"],
        "sft": ["HuggingFaceH4/ultrachat_200k"],
        "dpo": ["HuggingFaceH4/ultrafeedback_binarized"],
        "eval": ["openlanguagedata/flores_plus"],
    },
    "tower": {
        "data": ["HuggingFaceFW/fineweb (sample-10BT)",
                 *(f"HuggingFaceFW/fineweb-2 ({c})" for c in ("deu_Latn", "fra_Latn", "nld_Latn", "ita_Latn",
                                                             "spa_Latn", "por_Latn", "kor_Hang", "rus_Cyrl",
                                                             "cmn_Hani")),
                 *(f"Helsinki-NLP/opus-100 ({p})" for p in ("de-en", "en-fr", "en-nl", "en-it", "en-es", "en-pt",
                                                            "en-ko", "en-ru", "en-zh"))],
        "sft": [f"Helsinki-NLP/opus-100 ({p})" for p in ("de-en", "en-fr", "en-nl", "en-it", "en-es", "en-pt",
                                                          "en-ko", "en-ru", "en-zh")],
        "eval": ["openlanguagedata/flores_plus"],
    },
}


def _listed(stdout: str) -> dict[str, list[str]]:
    """Unreachable datasets under the stage line they follow."""
    found, stage = {}, None
    for line in stdout.splitlines():
        if line.startswith(UNREACHABLE):
            found.setdefault(stage, []).append(line[len(UNREACHABLE):])
        elif line.split()[:1] and not line.startswith(" "):
            stage = line.split()[0]
    return found


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_offline_dry_run_lists_each_hub_dataset_once_and_exits_0(name):
    proc = run_cli("run", f"recipes/{name}.yaml", "--dry-run", env={"HF_HUB_OFFLINE": "1", "COLUMNS": "300"})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr == ""
    assert _listed(proc.stdout) == EXPECTED[name]
    assert "../shared/data" not in (ROOT / "recipes" / f"{name}.yaml").read_text(encoding="utf-8")


def test_recipe_stages_declare_their_hub_datasets_beside_their_files():
    recipe = load(ROOT / "recipes" / "sambalingo.yaml")
    assert recipe.dpo.hub_datasets() == [("HuggingFaceH4/ultrafeedback_binarized", None)]
    assert recipe.dpo.inputs() == []  # nothing local: the fingerprint stamps no file for it
    assert recipe.vocab.inputs() == ["corpora/fineweb-2/swh_Latn.txt"]
    assert recipe.data.hub_datasets() == [("HuggingFaceFW/fineweb-2", "swh_Latn"),
                                          ("HuggingFaceFW/fineweb", "sample-10BT")]


def test_reachability_offline_answers_at_once_without_a_request(monkeypatch):
    from huggingface_hub import HfApi

    def no_request(*args, **kwargs):
        raise AssertionError("offline must not ask the hub")

    monkeypatch.setattr(HfApi, "dataset_info", no_request)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert assets.hub_dataset_reachable("tatsu-lab/alpaca") is False


def test_reachability_online_is_one_metadata_call_with_a_short_timeout(monkeypatch):
    from huggingface_hub import HfApi

    asked = []

    def answer(self, repo_id, timeout=None, **kwargs):
        asked.append((repo_id, timeout))
        if repo_id == "nobody/nothing":
            raise httpx.ConnectError("no network")
        return object()

    for flag in ("LINGUALIFT_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(flag, raising=False)
    monkeypatch.setattr(HfApi, "dataset_info", answer)
    assert assets.hub_dataset_reachable("tatsu-lab/alpaca") is True
    assert assets.hub_dataset_reachable("nobody/nothing") is False
    assert asked == [("tatsu-lab/alpaca", assets.METADATA_TIMEOUT_S), ("nobody/nothing", assets.METADATA_TIMEOUT_S)]


def test_parallel_columns_nested_as_opus_100_keeps_them(tmp_path):
    """OPUS-100 / NLLB rows: {"translation": {"en": ..., "sw": ...}} become one parallel record each."""
    path = tmp_path / "opus.jsonl"
    rows = [{"translation": {"en": "Good morning.", "sw": "Habari za asubuhi."}, "id": 1},
            {"translation": {"en": "Thank you.", "sw": 7}}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    source = Source(type="jsonl", path=str(path), src_field="translation.en", tgt_field="translation.sw",
                    src_lang="en", tgt_lang="sw")
    good, bad = list(read(source))
    assert good == {"id": 1, "src": "Good morning.", "tgt": "Habari za asubuhi.", "src_lang": "eng_Latn",
                    "tgt_lang": "swh_Latn"}
    assert bad.line == 2 and "string src, tgt" in bad.message
    with pytest.raises(ValueError, match="src_field and tgt_field go together"):
        Source(type="hf", path="Helsinki-NLP/opus-100", src_field="translation.en", src_lang="en", tgt_lang="sw")


def test_preferences_as_conversations_are_taken_whole(tmp_path):
    """ultrafeedback_binarized's shape: chosen and rejected are conversations ending in the answer."""
    path = tmp_path / "prefs.jsonl"
    turn = [{"role": "user", "content": "2+2?"}]
    rows = [{"prompt": "2+2?", "chosen": [*turn, {"role": "assistant", "content": "4"}],
             "rejected": [*turn, {"role": "assistant", "content": "5"}], "score_chosen": 9.0}]
    path.write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    from lingualift.core.records import preference

    assert taken_whole(str(path), preference) == [{"prompt": turn, "chosen": "4", "rejected": "5"}]
    from lingualift.data.preferences import PreferenceConfig, build

    out = tmp_path / "dpo.jsonl"
    report = build(PreferenceConfig(preferences=[str(path)]), out)
    assert report["examples"] == report["taken_whole"] == 1
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == \
        [{"prompt": turn, "chosen": "4", "rejected": "5"}]


def test_flores_plus_mandarin_configs_answer_for_zho_codes(tmp_path, monkeypatch):
    """FLORES+ keeps Mandarin under cmn_Hans / cmn_Hant: `hf:` data asked for zho_Hans (the
    registry's and FLORES-200's code) read that config; a code it lacks fails in one line."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lingualift.core import assets
    from lingualift.core.io import InputError
    from lingualift.corpora.sources import load_pair

    lines = {"eng_Latn": ["Hello.", "Thank you."], "cmn_Hans": ["你好。", "谢谢。"]}
    configs = []
    for code, text in lines.items():
        (tmp_path / "dev").mkdir(exist_ok=True)
        pq.write_table(pa.table({"id": [1, 2], "text": text}), tmp_path / "dev" / f"{code}.parquet")
        configs.append(f"- config_name: {code}\n  data_files:\n  - split: dev\n    path: dev/{code}.parquet")
    (tmp_path / "README.md").write_text("---\nconfigs:\n" + "\n".join(configs) + "\n---\n")
    monkeypatch.setattr(assets, "hub_snapshot", lambda name, kind: tmp_path)
    src, tgt = load_pair("hf:openlanguagedata/flores_plus", "eng_Latn", "zho_Hans", "dev", None)
    assert src.lines == ("Hello.", "Thank you.") and tgt.lines == ("你好。", "谢谢。")
    assert tgt.origin == "hf:openlanguagedata/flores_plus/cmn_Hans/dev"
    with pytest.raises(InputError, match="has no config zho_Hant \\(nor cmn_Hant\\); it has cmn_Hans"):
        load_pair("hf:openlanguagedata/flores_plus", "eng_Latn", "zho_Hant", "dev", None)
