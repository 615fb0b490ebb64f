"""Odd input read one way everywhere (issue 14): a BOM, invalid UTF-8 inside JSON, fields of
the wrong type in training data, blank references, misaligned language files."""

import json

import pytest

from conftest import run_cli
from lingualift.core.io import InputError, read_lines, read_text
from lingualift.core.records import iter_json, read_instructions, read_preferences, read_records

BOM = b"\xef\xbb\xbf"


def _score(hyp, ref):
    proc = run_cli("eval", "score", "--hyp", str(hyp), "--ref", str(ref), "--tgt-lang", "sw", "--metrics",
                   "bleu,chrf++", "--json")
    return proc


def test_eval_score_of_identical_texts_with_a_bom_is_100(tmp_path):
    text = b"Habari ya asubuhi rafiki yangu.\nNinakupenda sana.\n"
    (tmp_path / "bom.txt").write_bytes(BOM + text)
    (tmp_path / "plain.txt").write_bytes(text)
    for hyp, ref in (("bom.txt", "bom.txt"), ("bom.txt", "plain.txt"), ("plain.txt", "bom.txt")):
        proc = _score(tmp_path / hyp, tmp_path / ref)
        assert proc.returncode == 0, proc.stderr
        scores = json.loads(proc.stdout)
        assert round(scores["bleu"]["score"], 6) == 100 and round(scores["chrf++"]["score"], 6) == 100


def test_eval_score_refuses_blank_references_as_eval_translate_does(tmp_path):
    (tmp_path / "hyp.txt").write_text("Habari\nNinakupenda\n")
    (tmp_path / "ref.txt").write_text("Habari\n   \n")
    proc = _score(tmp_path / "hyp.txt", tmp_path / "ref.txt")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "ref.txt:2: empty segment (expected one sentence per line)" in proc.stderr


def test_bom_is_dropped_by_every_reader(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(BOM + b'{"text": "Habari", "lang": "sw"}\n')
    (tmp_path / "a.json").write_bytes(BOM + b'[{"text": "Habari", "lang": "sw"}]')
    (tmp_path / "a.txt").write_bytes(BOM + b"Habari\n")
    for name in ("a.jsonl", "a.json"):
        assert read_records(tmp_path / name) == [(1, {"text": "Habari", "lang": "sw"})]
    assert read_lines(tmp_path / "a.txt") == ["Habari"] and read_text(tmp_path / "a.txt") == "Habari\n"


def test_invalid_utf8_inside_a_json_file_names_its_line(tmp_path):
    (tmp_path / "a.json").write_bytes(b'[\n{"text": "ok"},\n{"text": "bad \xff"}\n]')
    with pytest.raises(InputError, match=r"a.json:3: invalid UTF-8 at byte 14 of the line"):
        list(iter_json(tmp_path / "a.json"))


@pytest.mark.parametrize("reader, record, needle", [
    (read_instructions, {"instruction": 5, "output": "x"}, "instruction must be a string"),
    (read_instructions, {"conversations": "hello"}, "conversations must be a list of turns"),
    (read_instructions, {"conversations": [{"from": {"a": 1}, "value": "hi"}]}, "unknown role"),
    (read_instructions, {"messages": [{"role": "user", "content": 5}]}, "a user message without string content"),
    (read_preferences, {"prompt": 5, "chosen": "a", "rejected": "b"}, "expected a prompt"),
    (read_preferences, {"prompt": "p", "chosen": 5, "rejected": "b"}, "chosen must be a string"),
    (read_preferences, {"conversations": "p", "chosen": "a", "rejected": "b"}, "expected a prompt .* or conversations"),
])
def test_training_data_fields_of_the_wrong_type_name_the_line(reader, record, needle, tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "ho"}],
                                "prompt": "hi", "chosen": "a", "rejected": "b"}) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(InputError, match=f"d.jsonl:2: {needle}"):
        reader(str(path))


def test_train_sft_with_a_bad_record_is_one_line(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"instruction": 5, "output": "x"}\n')
    proc = run_cli("train", "sft", "--model", "tiny", "--data", str(tmp_path / "d.jsonl"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "d.jsonl:1: instruction must be a string" in proc.stderr


@pytest.fixture()
def aligned(flores, tmp_path):
    folder = tmp_path / "fl"
    folder.mkdir()
    for code in ("eng_Latn", "swh_Latn"):
        (folder / f"{code}.dev").write_text("\n".join(read_lines(flores / f"{code}.dev")[:20]) + "\n")
    return folder


def test_vocab_analyze_counts_a_file_with_a_bom_as_without(aligned):
    from lingualift.vocab.fertility import analyze

    plain = analyze("tiny", f"flores:{aligned}", ["swh_Latn"])["languages"]["swh_Latn"]
    (aligned / "swh_Latn.dev").write_bytes(BOM + (aligned / "swh_Latn.dev").read_bytes())
    assert analyze("tiny", f"flores:{aligned}", ["swh_Latn"])["languages"]["swh_Latn"] == plain


def test_vocab_analyze_refuses_misaligned_files(aligned):
    lines = (aligned / "swh_Latn.dev").read_text().splitlines()
    (aligned / "swh_Latn.dev").write_text("\n".join(lines[:15]) + "\n")
    proc = run_cli("vocab", "analyze", "--tokenizer", "tiny", "--data", f"flores:{aligned}", "--langs", "sw")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"{aligned}/swh_Latn.dev:16: {aligned}/swh_Latn.dev has 15 lines but" in proc.stderr


def test_vocab_analyze_with_a_blank_english_reference_is_one_line(aligned):
    (aligned / "eng_Latn.dev").write_text("\n" * 20)
    proc = run_cli("vocab", "analyze", "--tokenizer", "tiny", "--data", f"flores:{aligned}", "--langs", "sw")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "eng_Latn.dev:1: the English reference has no text" in proc.stderr


def test_bom_and_lone_surrogates_in_translate_and_data_build_input(tmp_path):
    from lingualift.data import readers
    from lingualift.data.config import Source
    from lingualift.translate.files import read_input

    (tmp_path / "a.txt").write_bytes(BOM + b"Hello\n")
    assert [line.text for line in read_input(str(tmp_path / "a.txt"))] == ["Hello"]  # no BOM in the prompt
    (tmp_path / "a.jsonl").write_text('{"text": "Hello \\ud800", "lang": "en"}\n')
    with pytest.raises(InputError, match=r"a.jsonl:1: a lone surrogate \\ud800"):
        list(read_input(str(tmp_path / "a.jsonl")))
    (bad,) = readers.read(Source(type="jsonl", path=str(tmp_path / "a.jsonl")))
    assert isinstance(bad, readers.Bad) and bad.line == 1 and "lone surrogate" in bad.message
