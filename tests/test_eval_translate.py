"""`eval translate` end to end on the tiny preset, and every bad-input path of the CLI."""

import json

import pytest
import sacrebleu

from conftest import run_cli
from lingualift.core.io import read_lines
from lingualift.corpora.sources import parse_directions
from lingualift.eval.config import TranslateSettings
from lingualift.eval.translate import run

DIRECTIONS = [("eng_Latn", "swh_Latn"), ("swh_Latn", "eng_Latn"), ("eng_Latn", "zho_Hans")]


def test_parse_directions():
    assert parse_directions("en-x", ["sw", "fr"]) == [("eng_Latn", "swh_Latn"), ("eng_Latn", "fra_Latn")]
    assert parse_directions("x-en", ["sw"]) == [("swh_Latn", "eng_Latn")]
    assert len(parse_directions("all", ["en", "sw", "fr"])) == 6
    assert parse_directions("hub:zh", ["sw"]) == [("zho_Hans", "swh_Latn"), ("swh_Latn", "zho_Hans")]
    assert parse_directions("eng_Latn-swh_Latn,sw-en", []) == [("eng_Latn", "swh_Latn"), ("swh_Latn", "eng_Latn")]


def test_eval_translate_end_to_end_with_cache_and_compare(flores, tmp_path):
    out = tmp_path / "eval"
    settings = TranslateSettings(directions=",".join(f"{s}-{t}" for s, t in DIRECTIONS), limit=20, max_new_tokens=48,
                                 batch_size=20)
    io = {"model": "tiny", "data": f"flores:{flores}"}
    results = run(settings, **io, out=str(out))
    assert [r["direction"] for r in results["directions"]] == [f"{s}-{t}" for s, t in DIRECTIONS]
    for record in results["directions"]:
        hyps = read_lines(out / "directions" / record["direction"] / "hyp.txt", allow_empty=True)
        refs = read_lines(flores / f"{record['tgt']}.dev")[:20]
        assert len(hyps) == record["n"] == 20
        tok = "zh" if record["tgt"] == "zho_Hans" else "13a"
        assert record["scores"]["bleu"]["score"] == pytest.approx(
            sacrebleu.corpus_bleu(hyps, [refs], tokenize=tok).score, abs=1e-9)
        assert record["scores"]["chrf++"]["score"] == pytest.approx(
            sacrebleu.corpus_chrf(hyps, [refs], word_order=2).score, abs=1e-9)
        assert record["scores"]["spbleu_flores200"]["score"] is None  # no SPM model offline: reported, not replaced
    saved = json.loads((out / "results.json").read_text())
    assert saved["meta"]["template"]["name"] == "llamax-alpaca"
    assert saved["meta"]["versions"]["sacrebleu"] == sacrebleu.__version__
    assert "tok:13a" in " ".join(saved["meta"]["signatures"]["bleu"])
    assert saved["averages"]["en->X"]["directions"] == 2 and saved["averages"]["X->en"]["directions"] == 1
    assert len((out / "results.csv").read_text().splitlines()) == 4
    html = (out / "report.html").read_text()
    assert "<table>" in html and "hsl(" in html and "http" not in html.split("How this was made")[0]
    assert "## Averages" in (out / "report.md").read_text()

    again = run(settings, **io, out=str(out))  # everything cached: no model is even loaded
    assert again["meta"]["engine"] == "hf" and again["meta"]["cached_directions"] == 3  # how they were made, kept
    assert all(d["made_by"]["command"] == results["directions"][0]["made_by"]["command"] for d in again["directions"])
    assert again["directions"] == results["directions"]
    # the chat template renders with the model's tokenizer: a re-run with every direction cached records it
    chat = settings.model_copy(update={"template": "chat", "directions": "-".join(DIRECTIONS[0]), "limit": 2,
                                       "max_new_tokens": 4})
    made = run(chat, **io, out=str(tmp_path / "chat"))
    assert run(chat, **io, out=str(tmp_path / "chat"))["meta"]["template"] == made["meta"]["template"]
    assert made["meta"]["template"]["name"] == "chat"

    other = tmp_path / "eval2"
    first = settings.model_copy(update={"directions": "-".join(DIRECTIONS[0])})
    compared = run(first, **io, out=str(other), compare=str(out))
    assert compared["comparison"]["deltas"][0]["chrf++"] == 0.0
    assert "Change against" in (other / "report.md").read_text()


def _assert_user_error(proc, *needles, out=None):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0]
    if out is not None:
        assert not out.exists()


def test_unknown_language(flores, tmp_path):
    out = tmp_path / "o"
    proc = run_cli("eval", "translate", "--model", "tiny", "--data", f"flores:{flores}", "--directions", "en-x",
                   "--langs", "swahilli", "--out", str(out))
    _assert_user_error(proc, "unknown language 'swahilli'", "swh_Latn", out=out)


def test_missing_flores_file(flores, tmp_path):
    out = tmp_path / "o"
    proc = run_cli("eval", "translate", "--model", "tiny", "--data", f"flores:{flores}", "--split", "devtest",
                   "--directions", "en-sw", "--out", str(out))
    _assert_user_error(proc, str(flores), "eng_Latn.devtest", out=out)


@pytest.mark.parametrize("src,ref,needles", [
    (b"one\ntwo\nthree\n", b"moja\nmbili\n", ("ref.txt:3", "3 lines")),  # line counts differ
    (b"", b"moja\n", ("src.txt:1", "empty")),
    (b"one\ntwo\n", b"moja\nmb\xffili\n", ("ref.txt:2", "invalid UTF-8")),
])
def test_bad_tsv_inputs(tmp_path, src, ref, needles):
    (tmp_path / "src.txt").write_bytes(src)
    (tmp_path / "ref.txt").write_bytes(ref)
    out = tmp_path / "o"
    proc = run_cli("eval", "translate", "--model", "tiny", "--data", f"tsv:{tmp_path}/src.txt,{tmp_path}/ref.txt",
                   "--directions", "en-sw", "--out", str(out))
    _assert_user_error(proc, *needles, out=out)


def test_eval_score_json_matches_sacrebleu(flores, tmp_path):
    refs = read_lines(flores / "swh_Latn.dev")[:50]
    hyps = [" ".join(r.split()[:-1]) for r in refs]
    (tmp_path / "h").write_text("\n".join(hyps) + "\n")
    proc = run_cli("eval", "score", "--hyp", str(tmp_path / "h"), "--ref", str(flores / "swh_Latn.dev"),
                   "--tgt-lang", "sw", "--json")
    _assert_user_error(proc, "swh_Latn.dev:51", "997 lines")
    (tmp_path / "r").write_text("\n".join(refs) + "\n")
    proc = run_cli("eval", "score", "--hyp", str(tmp_path / "h"), "--ref", str(tmp_path / "r"), "--tgt-lang", "sw", "--json")
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout)
    assert set(scores) >= {"bleu", "spbleu_flores101", "spbleu_flores200", "chrf++", "ter", "off_target"}
    assert scores["bleu"]["score"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
    assert scores["chrf++"]["signature"].startswith("nrefs:1")
    assert scores["spbleu_flores101"]["score"] is None and "unavailable" in scores["spbleu_flores101"]


@pytest.mark.parametrize("args", [[], ["langs"], ["eval"], ["eval", "translate"], ["eval", "score"], ["models", "fetch"],
                                  ["data", "build"], ["data", "stats"], ["vocab", "analyze"], ["vocab", "expand"],
                                  ["train", "cpt"], ["train", "sft"], ["train", "dpo"], ["data", "sft"], ["data", "dpo"],
                                  ["export"]])
def test_help_explains_itself(args):
    proc = run_cli(*args, "--help")
    assert proc.returncode == 0
    assert "Example" in proc.stdout or "Examples" in proc.stdout or args in ([], ["eval"])
