"""The ct2 engine (CTranslate2) against the hf engine on the same model and prompts."""

import os
from types import SimpleNamespace

import pytest

from lingualift.core.io import InputError, read_lines
from lingualift.inference.generate import GenerationParams, GenerationStats, load_generator

pytest.importorskip("ctranslate2", reason="the ct2 engine is the optional extra lingualift[ct2]")

PROMPTS = ["Hello", "A much longer prompt with several words in it", "Jambo dunia", "x", "你好，世界", "Mbwa"]
# On the tiny model these stop some rows at their second token and leave others to run to the limit.
STOPS = ("))", "rr")


@pytest.fixture(scope="module")
def engines():
    return load_generator("tiny", engine="hf"), load_generator("tiny", engine="ct2")


def test_greedy_equals_hf_with_stop_strings(engines, flores):
    hf, ct2 = engines
    prompts = PROMPTS + read_lines(flores / "eng_Latn.dev")[900:910]
    params = GenerationParams(max_new_tokens=40, batch_size=4, stop=STOPS)
    ours = ct2.generate(prompts, params)
    assert ours == hf.generate(prompts, params)
    assert {len(o) < 40 for o in ours} == {True, False}  # stopped and unstopped rows both checked
    assert ct2.stats.new_tokens > 0 and ct2.stats.lines == len(prompts)


def test_beam_search_equals_transformers_early_stopping(engines, flores, monkeypatch):
    """CTranslate2 ends a line's search once num_beams hypotheses are finished: transformers'
    early_stopping=True. With a one-token stop (the newline translation stops at) a hypothesis
    that reaches it is finished in both."""
    hf, ct2 = engines
    prompts = PROMPTS + read_lines(flores / "eng_Latn.dev")[900:906]
    params = GenerationParams(max_new_tokens=24, num_beams=4, batch_size=4, stop=("\n",))
    original = hf.model.generate
    monkeypatch.setattr(hf.model, "generate", lambda **kw: original(**kw, early_stopping=True))
    assert ct2.generate(prompts, params) == hf.generate(prompts, params)
    n_best = GenerationParams(max_new_tokens=12, num_beams=4, stop=())
    best = ct2.candidates(PROMPTS, n_best, 3)
    assert [len(c) for c in best] == [3] * len(PROMPTS) and best == hf.candidates(PROMPTS, n_best, 3)


def test_sampling_is_refused_in_one_sentence(engines):
    with pytest.raises(InputError, match="use --engine hf for sampling"):
        engines[1].generate(PROMPTS[:1], GenerationParams(do_sample=True))


class _Decoder:
    """A stand-in CTranslate2 decoder: a newline first, then text ending in a newline; its beam
    search ends on a newline at once, as a real one does when the prompt lacks it."""

    def __init__(self, tokenizer):
        self.newline, self.text = tokenizer.encode("\n"), tokenizer.encode("Habari\n")
        self.calls = []

    def generate_batch(self, prompts, max_length, beam_size, callback=None, end_token=(), num_hypotheses=1, **kw):
        self.calls.append((beam_size, prompts))
        out = []
        for row, prompt in enumerate(prompts):
            ids = self.text if prompt[-1:] == self.newline_tokens else self.newline
            if callback:  # greedy: token by token until the callback ends the row
                for token in self.newline + self.text:
                    if callback(SimpleNamespace(batch_id=row, token_id=token)):
                        break
            assert all(t in end_token for t in ids[-1:]) or callback
            out.append(SimpleNamespace(sequences_ids=[ids] * num_hypotheses))
        return out


def test_beam_search_takes_the_leading_blank_into_the_prompt(engines):
    """Alpaca models write a newline right after "### Response:": the hf engine's stop rule skips
    it; ct2's beam search would end every hypothesis on it, so the blank greedy decoding starts
    with goes into the prompt first (one pass at one beam), and one search follows."""
    from lingualift.inference import ct2 as engine

    tokenizer = engines[1].tokenizer
    decoder = _Decoder(tokenizer)
    decoder.newline_tokens = tokenizer.convert_ids_to_tokens(decoder.newline)[-1:]
    model = engine.Ct2Model(decoder, 0)
    [[out]] = engine.generate(model, tokenizer, ["### Response:"], GenerationParams(num_beams=4, stop=("\n",)),
                              GenerationStats(), None)
    assert out == "\nHabari"
    assert [beams for beams, _ in decoder.calls] == [1, 4]
    assert len(decoder.calls[1][1][0]) == len(decoder.calls[0][1][0]) + len(decoder.newline)


def test_conversion_is_cached_and_redone_when_the_weights_change(tmp_path, monkeypatch):
    from lingualift.inference import ct2, models

    monkeypatch.setenv("LINGUALIFT_CACHE", str(tmp_path / "cache"))
    model, tokenizer = models.build_tiny()
    model.save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    first = ct2.converted(tmp_path / "m")
    assert (first / "model.bin").is_file() and ct2.converted(tmp_path / "m") == first
    weights = tmp_path / "m" / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert ct2.converted(tmp_path / "m") != first
    assert not [p for p in (tmp_path / "cache" / "ct2").iterdir() if p.name.startswith(".")]


def test_without_ctranslate2_or_with_a_gguf_file_one_sentence(tmp_path, monkeypatch):
    import sys

    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(InputError, match="not GGUF"):
        load_generator(str(gguf), engine="ct2")
    monkeypatch.setitem(sys.modules, "ctranslate2", None)
    with pytest.raises(InputError, match=r"pip install 'lingualift\[ct2\]'"):
        load_generator("tiny", engine="ct2")


def test_int8_weights_run_beam_search_and_are_the_ct2_engine_s_alone(engines, flores):
    """--dtype int8 gives CTranslate2 8-bit weights; its text is not float32's, so it is checked
    for what it must keep: one answer per prompt, in order, under the stop rule. The torch
    engines refuse int8 in one sentence."""
    int8 = load_generator("tiny", engine="ct2", dtype="int8")
    assert int8.model.decoder.compute_type.startswith("int8")  # int8 GEMMs, float32 elsewhere on CPUs
    prompts = read_lines(flores / "eng_Latn.dev")[900:904]
    params = GenerationParams(max_new_tokens=12, num_beams=4, batch_size=2, stop=("\n",))
    outputs = int8.generate(prompts, params)
    assert len(outputs) == len(prompts) and all("\n" not in o.strip() for o in outputs)
    assert int8.stats.new_tokens > 0
    with pytest.raises(InputError, match="dtype int8 is the ct2 engine's"):
        load_generator("tiny", engine="hf", dtype="int8")
