"""`data build` on real data from ../shared/data: filters, dedup, augmentation, packing,
determinism, resume, and bad input."""

import gzip
import json
import lzma
import random
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
import zstandard

from conftest import ROOT, run_cli
from lingualift.core.io import InputError, read_lines
from lingualift.data import augment, dictionaries, mix
from lingualift.data.build import build
from lingualift.data.config import AugmentConfig, DataConfig, DedupConfig, MixConfig, PackConfig, Source


def _jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def planted(flores, tmp_path_factory):
    """FLORES Swahili with planted duplicates, a wrong-script and a wrong-language line."""
    folder = tmp_path_factory.mktemp("planted")
    swh = read_lines(flores / "swh_Latn.dev")[:200]
    records = [{"text": t, "lang": "swh_Latn"} for t in swh]
    records.append({"text": swh[3], "lang": "swh_Latn"})  # exact duplicate
    records.append({"text": "  " + swh[7].upper().replace(",", "") + " ", "lang": "swh_Latn"})  # same after normalising
    near = max(swh, key=len).split()
    near[len(near) // 2] = "kabisa"
    records.append({"text": " ".join(near), "lang": "swh_Latn"})  # near duplicate: one word changed
    records.append({"text": read_lines(flores / "rus_Cyrl.dev")[5], "lang": "swh_Latn"})  # wrong script
    records.append({"text": read_lines(flores / "fra_Latn.dev")[9], "lang": "swh_Latn"})  # wrong language
    return _jsonl(folder / "planted.jsonl", records), swh


def _config(sources, **kw):
    return DataConfig(sources=sources, pack=PackConfig(tokenizer="tiny", block_size=256, docs_per_shard=150), **kw)


def test_planted_problems_removed_with_reasons(planted, tmp_path):
    path, swh = planted
    cfg = _config([Source(type="jsonl", path=path)], dedup=DedupConfig(near=True))
    manifest = build(cfg.model_copy(update={"rejects": True}), tmp_path / "out")
    removed = manifest["removed"]["swh_Latn"]
    assert removed == {"duplicate_exact": 2, "duplicate_near": 1, "script": 1, "langid": 1}
    rejects = [json.loads(line) for line in (tmp_path / "out" / "rejects" / "000-jsonl.jsonl").read_text().splitlines()]
    assert {r["reason"] for r in rejects} == {"script", "langid"}
    assert manifest["groups"]["swh_Latn"]["available"] == 200
    assert manifest["languages"]["swh_Latn"]["documents"] == 200


def test_packing_layout_and_datasets_loading(planted, tmp_path):
    import datasets

    path, swh = planted
    cfg = _config([Source(type="jsonl", path=path)])
    manifest = build(cfg, tmp_path / "out")
    files = [str(tmp_path / "out" / s["file"]) for s in manifest["shards"]]
    assert len(files) == 2  # 200 documents, 150 per shard
    ds = datasets.load_dataset("parquet", data_files=files, split="train")
    assert set(ds.column_names) == {"input_ids", "position_ids", "seq_lens"}
    assert len(ds) == manifest["packing"]["blocks"]
    eos = 258  # tiny's <|im_end|>
    for row in ds.select(range(5)):
        assert len(row["input_ids"]) == 256 and sum(row["seq_lens"]) == 256
        starts = [0]
        for n in row["seq_lens"][:-1]:
            starts.append(starts[-1] + n)
        assert [i for i, p in enumerate(row["position_ids"]) if p == 0] == starts
        for start, n in zip(starts[:-1], row["seq_lens"][:-1]):
            assert row["input_ids"][start + n - 1] == eos  # every complete document ends in EOS
    p = manifest["packing"]
    assert p["tokens"] == p["blocks"] * 256 and 0.9 < p["efficiency"] <= 1.0
    assert sum(v["tokens"] for v in manifest["languages"].values()) == p["tokens"] + p["dropped_tokens"]


def test_same_inputs_give_byte_identical_shards_with_any_workers(planted, tmp_path):
    path, _ = planted
    cfg = _config([Source(type="jsonl", path=path)], dedup=DedupConfig(near=True))
    one = build(cfg.model_copy(update={"workers": 1}), tmp_path / "a")
    two = build(cfg.model_copy(update={"workers": 2}), tmp_path / "b")
    assert [s["sha256"] for s in one["shards"]] == [s["sha256"] for s in two["shards"]]
    for s in one["shards"]:
        assert (tmp_path / "a" / s["file"]).read_bytes() == (tmp_path / "b" / s["file"]).read_bytes()
    changed = build(cfg.model_copy(update={"seed": 1}), tmp_path / "c")
    assert [s["sha256"] for s in changed["shards"]] != [s["sha256"] for s in one["shards"]]


def test_a_source_split_over_tasks_gives_the_same_shards(planted, shared, tmp_path):
    """One large source read by several tasks, each a contiguous piece: exact, normalised and
    near duplicates that cross the pieces, sampling (a cap) and upsampling (a minimum) give
    the same packed documents, byte for byte, as one task per source."""
    path, _ = planted
    eng = read_lines(shared / "tatoeba/eng-swa/tatoeba-test-v2021-08-07.eng")
    swa = read_lines(shared / "tatoeba/eng-swa/tatoeba-test-v2021-08-07.swa")
    (tmp_path / "e.txt.gz").write_bytes(gzip.compress(("\n".join(eng) + "\n").encode()))
    (tmp_path / "s.txt").write_text("\n".join(swa) + "\n", encoding="utf-8")

    def config(jsonl_tasks, pair_tasks):
        return _config([Source(type="jsonl", path=path, tasks=jsonl_tasks),
                        Source(type="pairs", paths=[str(tmp_path / "e.txt.gz"), str(tmp_path / "s.txt")],
                               src_lang="en", tgt_lang="sw", tasks=pair_tasks)],
                       dedup=DedupConfig(near=True), rejects=True,
                       mix=MixConfig(caps={"sw": 120}, min_per_group=500))

    one = build(config(1, 1), tmp_path / "one")
    split = build(config(3, 2), tmp_path / "split")
    assert [s["tasks"] for s in split["sources"]] == [3, 2]
    assert [s["sha256"] for s in split["shards"]] == [s["sha256"] for s in one["shards"]]
    for key in ("removed", "duplicates", "groups", "languages", "packing"):
        assert split[key] == one[key], key
    assert [s["read"] for s in split["sources"]] == [s["read"] for s in one["sources"]] == [205, 387]
    assert one["duplicates"]["swh_Latn"] == 3  # exact, normalised and near, the copies after the pieces' bounds
    assert one["groups"]["swh_Latn"]["drawn"] == 120 and one["groups"]["eng_Latn-swh_Latn"]["drawn"] == 500
    # each task writes its own rejects file; together they hold what one task's file holds
    for source in ("000-jsonl", "001-pairs"):
        pieces = sorted((tmp_path / "split" / "rejects").glob(f"{source}.*.jsonl"))
        assert "".join(p.read_text() for p in pieces) == (tmp_path / "one/rejects" / f"{source}.jsonl").read_text()
    assert [p.name for p in (tmp_path / "split" / "rejects").glob("000-jsonl.*")] == ["000-jsonl.00002.jsonl"]


def test_a_bad_line_in_a_later_piece_names_its_line_in_the_file(tmp_path):
    lines = [f"Habari ya asubuhi rafiki yangu namba {i}." for i in range(1, 201)]
    raw = ("\n".join(lines) + "\n").encode().replace(b"namba 150.", b"namba \xff.")
    (tmp_path / "c.txt").write_bytes(raw)
    with pytest.raises(InputError, match=r"c\.txt:150: invalid UTF-8"):
        build(_config([Source(type="text", path=str(tmp_path / "c.txt"), lang="sw", tasks=4)]), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    skipped = build(_config([Source(type="text", path=str(tmp_path / "c.txt"), lang="sw", tasks=4)], skip_bad=True),
                    tmp_path / "out")
    assert skipped["sources"][0]["read"] == 200 and skipped["sources"][0]["bad"] == 1


def test_compressed_inputs_and_pairs(shared, tmp_path):
    eng = read_lines(shared / "tatoeba/eng-swa/tatoeba-test-v2021-08-07.eng")
    swa = read_lines(shared / "tatoeba/eng-swa/tatoeba-test-v2021-08-07.swa")
    (tmp_path / "e.txt.gz").write_bytes(gzip.compress(("\n".join(eng) + "\n").encode()))
    (tmp_path / "s.txt.zst").write_bytes(zstandard.ZstdCompressor().compress(("\n".join(swa) + "\n").encode()))
    (tmp_path / "m.txt.xz").write_bytes(lzma.compress(("\n".join(swa[:50]) + "\n").encode()))
    cfg = _config([Source(type="pairs", paths=[str(tmp_path / "e.txt.gz"), str(tmp_path / "s.txt.zst")],
                          src_lang="en", tgt_lang="sw"),
                   Source(type="text", path=str(tmp_path / "m.txt.xz"), lang="swahili")])
    manifest = build(cfg, tmp_path / "out")
    assert manifest["sources"][0]["read"] == len(eng) == 387
    assert manifest["sources"][1]["read"] == 50
    assert set(manifest["languages"]) == {"eng_Latn-swh_Latn", "swh_Latn-eng_Latn", "swh_Latn"}
    # The 50 monolingual lines are also in the pairs, but pairs and text are deduplicated separately.
    assert manifest["groups"]["swh_Latn"]["available"] <= 50


def test_codeswitch_with_muse_replaces_the_configured_share(shared, flores):
    table = dictionaries.load(f"muse:{shared}/dicts/muse/en-de.txt", "deu_Latn")
    assert len(table) > 50000 and "the" in table
    ratio = 0.4
    for i, text in enumerate(read_lines(flores / "eng_Latn.dev")[:100]):
        rng = random.Random(i)
        spans = augment.covered_spans(text, table)
        switched, replaced, covered = augment.switch(text, table, ratio, 100, rng)
        assert covered == len(spans)
        assert replaced == int(ratio * covered + 0.5)
        if replaced:
            assert switched != text
            assert switched[-1] == text[-1]  # final punctuation kept


def test_codeswitch_keeps_case_and_multiword_entries():
    table = {"new york": ["Nueva York"], "city": ["Stadt"], "the": ["die"]}
    spans = augment.covered_spans("The New, York city", table)
    assert [k for _, _, k in spans] == ["the", "city"]  # a comma splits the phrase
    out, replaced, _ = augment.switch("The New York city.", table, 1.0, 10, random.Random(0))
    assert out == "Die Nueva York Stadt." and replaced == 3


def test_swahili_parallel_source_uses_wechsel(shared, tmp_path):
    cfg = _config([Source(type="pairs", paths=[f"{shared}/tatoeba/eng-swa/tatoeba-test-v2021-08-07.eng",
                                               f"{shared}/tatoeba/eng-swa/tatoeba-test-v2021-08-07.swa"],
                          src_lang="eng_Latn", tgt_lang="swh_Latn")],
                  augment=[AugmentConfig(dictionary=f"wechsel:{shared}/dicts/wechsel-wiktionary", src_lang="en",
                                         tgt_lang="sw", mode="parallel-source", ratio=0.5)])
    manifest = build(cfg, tmp_path / "out")
    aug = manifest["augmented"]
    assert aug["lines"]["swh_Latn"] > 100 and aug["replaced_words"]["swh_Latn"] >= aug["lines"]["swh_Latn"]
    pairs = manifest["groups"]["eng_Latn-swh_Latn"]["available"]
    assert pairs == manifest["sources"][0]["kept"]["eng_Latn-swh_Latn"] - sum(
        v for k, v in manifest["removed"]["eng_Latn-swh_Latn"].items() if k.startswith("duplicate")
    ) + aug["lines"]["swh_Latn"]


def test_dictionary_formats_and_pivot(tmp_path):
    (tmp_path / "d.csv").write_text("source,target\ndog,mbwa\ncat,paka\n")
    assert dictionaries.load(f"panlex:{tmp_path}/d.csv", "swh_Latn") == {"dog": ["mbwa"], "cat": ["paka"]}
    dog, cat = "dog\n1. Hund, Rüde\n".encode(), b"cat\nKatze\n"
    (tmp_path / "x.dict").write_bytes(dog + cat)
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"  # dictd's offsets
    (tmp_path / "x.index").write_text(f"cat\t{b64[len(dog)]}\t{b64[len(cat)]}\ndog\tA\t{b64[len(dog)]}\n")
    assert dictionaries.load(f"dictd:{tmp_path}/x.index", "deu_Latn") == {"dog": ["Hund", "Rüde"], "cat": ["Katze"]}
    en_sw = {"dog": ["mbwa"]}
    en_de = {"dog": ["Hund"]}
    assert dictionaries.pivot(dictionaries.invert(en_sw), en_de) == {"mbwa": ["Hund"]}


def test_mixing_rules():
    counts = {"swh_Latn": 900, "eng_Latn": 100, "eng_Latn-swh_Latn": 40, "eng_Latn-fra_Latn": 400}
    assert mix.targets(counts, MixConfig()) == counts  # T=1 keeps the data as it is
    flat = mix.targets(counts, MixConfig(temperature=1e9))
    assert flat["swh_Latn"] == flat["eng_Latn"] == 500 and flat["eng_Latn-swh_Latn"] == 220
    t5 = mix.targets(counts, MixConfig(temperature=5))
    assert counts["swh_Latn"] > t5["swh_Latn"] and t5["eng_Latn"] > counts["eng_Latn"]
    assert mix.targets(counts, MixConfig(min_per_group=100))["eng_Latn-swh_Latn"] == 100
    assert mix.targets(counts, MixConfig(caps={"sw": 300}))["swh_Latn"] == 300
    two = {"swh_Latn": 900, "eng_Latn": 1000}
    shares = mix.targets(two, MixConfig(shares={"sw": 0.75, "en": 0.25}))
    assert shares == {"swh_Latn": 900, "eng_Latn": 300}
    ratio = mix.targets(counts, MixConfig(mono_share=0.5))
    assert sum(v for g, v in ratio.items() if "-" not in g) == sum(v for g, v in ratio.items() if "-" in g) == 440
    with pytest.raises(InputError, match="missing"):
        mix.targets(two, MixConfig(shares={"sw": 1.0}))
    for count in (1, 2, 5, 64, 1000):  # a permutation of range(count), seeded
        assert sorted(mix.position(i, count, "s") for i in range(count)) == list(range(count))
    assert [mix.position(i, 64, "s") for i in range(64)] != [mix.position(i, 64, "t") for i in range(64)]
    # exactly k of count, each record deciding alone: the same records whatever task holds them
    assert sum(mix.chosen(i, 1000, 300, "s") for i in range(1000)) == 300
    picks = [mix.chosen(i, 1000, 300, "s") for i in range(1000)]
    assert 120 < sum(picks[:500]) < 180  # about half of them in each half


def _write_config(tmp_path, sources):
    import yaml

    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump({"sources": sources, "pack": {"tokenizer": "tiny", "block_size": 128}}))
    return str(path)


@pytest.mark.parametrize("case", ["utf8", "json", "lengths", "language"])
def test_bad_input_errors_and_skip_bad(case, tmp_path):
    good = "Habari ya asubuhi rafiki yangu.\n"
    if case == "utf8":
        (tmp_path / "c.txt").write_bytes(good.encode() * 3 + b"mbaya \xff\xfe\n" + good.encode())
        sources, needle = [{"type": "text", "path": str(tmp_path / "c.txt"), "lang": "sw"}], "c.txt:4: invalid UTF-8"
    elif case == "json":
        (tmp_path / "c.jsonl").write_text('{"text": "Habari", "lang": "sw"}\n{"text": "oops"\n')
        sources, needle = [{"type": "jsonl", "path": str(tmp_path / "c.jsonl")}], "c.jsonl:2: malformed JSON"
    elif case == "lengths":
        (tmp_path / "a.txt").write_text("one\ntwo\nthree\n")
        (tmp_path / "b.txt").write_text("moja\nmbili\n")
        sources = [{"type": "pairs", "paths": [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")],
                    "src_lang": "en", "tgt_lang": "sw"}]
        needle = "a.txt:3: has more lines than"
    else:
        (tmp_path / "c.jsonl").write_text('{"text": "Habari", "lang": "sw"}\n{"text": "Hallo", "lang": "klingonish"}\n')
        sources, needle = [{"type": "jsonl", "path": str(tmp_path / "c.jsonl")}], "c.jsonl:2: unknown language 'klingonish'"
    config = _write_config(tmp_path, sources)
    out = tmp_path / "out"
    proc = run_cli("data", "build", "--config", config, "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and needle in proc.stderr, proc.stderr
    assert not out.exists()
    if case != "lengths":  # misaligned pair files cannot be skipped line by line
        proc = run_cli("data", "build", "--config", config, "--out", str(out), "--skip-bad")
        assert proc.returncode == 0, proc.stderr
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["sources"][0]["bad"] == 1


def test_unknown_language_in_config_names_the_file(tmp_path):
    config = _write_config(tmp_path, [{"type": "text", "path": "x.txt", "lang": "swahilli"}])
    proc = run_cli("data", "build", "--config", config, "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "data.yaml: unknown language 'swahilli'" in proc.stderr


def test_killed_build_leaves_no_complete_looking_shard_and_resumes(planted, tmp_path):
    """kill -9 during packing, then resume: same shards as an uninterrupted build."""
    path, _ = planted
    import yaml

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"sources": [{"type": "jsonl", "path": path}],
                                      "pack": {"tokenizer": "tiny", "block_size": 64, "docs_per_shard": 20}}))
    out = tmp_path / "out"
    script = ("import os, sys, lingualift.data.build as b, lingualift.data.steps as s\n"
              "real = s.pack_shard\n"
              "def dying(bucket, *a):\n"
              "    if bucket == 3: os.kill(os.getpid(), 9)\n"
              "    return real(bucket, *a)\n"
              "s.pack_shard = dying\n"
              "from lingualift.core.config import load_yaml\nfrom lingualift.data.config import DataConfig\n"
              f"b.build(load_yaml({str(config)!r}, DataConfig), {str(out)!r})\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True)
    assert proc.returncode == -9
    assert not (out / "manifest.json").exists() and not list(out.glob("shard-*.parquet"))
    shards = sorted((out / ".work" / "staged").glob("shard-*.parquet"))  # moved into out once all are there
    assert [s.name for s in shards] == ["shard-00000.parquet", "shard-00001.parquet", "shard-00002.parquet"]
    for shard in shards:
        assert pq.read_table(shard).num_rows > 0  # every file that looks like a shard is whole
    proc = run_cli("data", "build", "--config", str(config), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    resumed = json.loads((out / "manifest.json").read_text())
    fresh = build(DataConfig.model_validate(yaml.safe_load(config.read_text())), tmp_path / "fresh")
    assert [s["sha256"] for s in resumed["shards"]] == [s["sha256"] for s in fresh["shards"]]
    assert len(resumed["shards"]) == 11  # 201 documents (near dedup is off), 20 per shard


def test_data_stats(planted, tmp_path):
    path, _ = planted
    proc = run_cli("data", "stats", path)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)["swh_Latn"]
    assert stats["records"] == 205 and stats["duplicate_share"] == pytest.approx(2 / 205, abs=1e-4)
    assert sum(stats["length_chars"].values()) == 205
    build(_config([Source(type="jsonl", path=path)]), tmp_path / "out")
    proc = run_cli("data", "stats", str(tmp_path / "out"))
    assert json.loads(proc.stdout)["languages"]["swh_Latn"]["documents"] == 201  # near dedup off


def test_parquet_source(flores, tmp_path):
    import pyarrow as pa

    lines = read_lines(flores / "deu_Latn.dev")[:40]
    pq.write_table(pa.table({"text": lines, "lang": ["de"] * 40}), tmp_path / "c.parquet")
    manifest = build(_config([Source(type="parquet", path=str(tmp_path / "c.parquet"))]), tmp_path / "out")
    assert manifest["sources"][0]["read"] == 40 and manifest["groups"]["deu_Latn"]["available"] == 40


def test_hf_source_from_a_local_dataset_folder(flores, tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    lines = read_lines(flores / "fra_Latn.dev")[:30]
    _jsonl(folder / "train.jsonl", [{"text": t, "lang": "fr"} for t in lines])
    manifest = build(_config([Source(type="hf", path=str(folder), split="train")]), tmp_path / "out")
    assert manifest["groups"]["fra_Latn"]["available"] == 30


def test_english_share_is_one_knob_for_replay():
    """SambaLingo's 75/25: English takes the share, whichever side is larger shrinks."""
    assert mix.targets({"swh_Latn": 1000, "eng_Latn": 1000}, MixConfig(english_share=0.25)) == \
        {"swh_Latn": 1000, "eng_Latn": 333}
    assert mix.targets({"swh_Latn": 1000, "eng_Latn": 100}, MixConfig(english_share=0.25)) == \
        {"swh_Latn": 300, "eng_Latn": 100}
    assert mix.targets({"swh_Latn": 10, "eng_Latn": 10, "eng_Latn-swh_Latn": 7}, MixConfig(english_share=0.5)) == \
        {"swh_Latn": 10, "eng_Latn": 10, "eng_Latn-swh_Latn": 7}
    with pytest.raises(InputError, match="english_share needs English"):
        mix.targets({"swh_Latn": 10}, MixConfig(english_share=0.25))
