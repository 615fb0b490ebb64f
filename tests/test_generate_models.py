import pytest

from lingualift.core.assets import AssetUnavailable
from lingualift.core.io import read_lines
from lingualift.inference import models
from lingualift.inference.generate import GenerationParams, load_generator
from lingualift.inference.onednn import enabled_for


@pytest.fixture(scope="module")
def tiny():
    return load_generator("tiny", engine="hf")


def test_tiny_is_deterministic_and_small():
    a, _ = models.build_tiny()
    b, _ = models.build_tiny()
    assert all((pa == pb).all() for pa, pb in zip(a.parameters(), b.parameters()))
    assert 1e6 < sum(p.numel() for p in a.parameters()) < 1e7


def test_tiny_tokenizer_round_trips_every_flores_language(flores):
    tok = models.build_tiny_tokenizer()
    for path in sorted(flores.glob("*.dev")):
        for line in read_lines(path)[:5]:
            assert tok.decode(tok(line)["input_ids"]) == line, path.name


def test_batched_generation_equals_one_at_a_time(tiny):
    prompts = ["Hello", "A much longer prompt with several words in it", "Jambo dunia", "x", "你好，世界"]
    params = GenerationParams(max_new_tokens=6, batch_size=8, stop=())
    batched = tiny.generate(prompts, params)
    single = [tiny.generate([p], GenerationParams(max_new_tokens=6, batch_size=1, stop=()))[0] for p in prompts]
    assert batched == single
    assert tiny.stats.lines == 10 and tiny.stats.new_tokens > 0 and tiny.stats.tokens_per_s > 0
    if not enabled_for(tiny.model):  # LINGUALIFT_ONEDNN=0, or a torch without oneDNN
        return
    # its fp32 CPU linear layers were packed for oneDNN once, for every call (inference/onednn.py)
    packed = {layer: copy for layer, (_, _, copy) in tiny.packed.items()}
    assert len(packed) == sum(type(m).__name__ == "Linear" for m in tiny.model.modules())
    tiny.generate(prompts[:1], params)
    assert all(tiny.packed[layer][2] is copy for layer, copy in packed.items())


def test_finished_rows_leave_the_batch_without_changing_any_output(tiny, monkeypatch):
    """Rows that stop at their second token (a stop string) leave while the rest run 40 tokens over
    three rounds: every output equals one `generate` over the whole batch."""
    from lingualift.inference import generate

    prompts = ["Hello", "A much longer prompt with several words in it", "Jambo dunia", "x", "你好，世界", "Mbwa"]
    params = GenerationParams(max_new_tokens=40, batch_size=8, stop=("))", "rr"))
    calls = []
    original = tiny.model.generate
    monkeypatch.setattr(tiny.model, "generate", lambda **kw: calls.append(kw["input_ids"].shape[0]) or original(**kw))
    pruned = tiny.generate(prompts, params)
    monkeypatch.setattr(generate, "PRUNE_EVERY", 1000)
    assert tiny.generate(prompts, params) == pruned
    assert sorted({len(p) for p in pruned}) == [1, 40] and calls[:3] == [6, 4, 4]  # stopped rows left


def test_overlong_prompt_keeps_its_end_within_the_context(tiny, monkeypatch):
    seen = []
    original = tiny.model.generate

    def spy(input_ids, **kwargs):
        seen.append(input_ids[0].tolist())
        return original(input_ids=input_ids, **kwargs)

    monkeypatch.setattr(tiny.model, "generate", spy)
    prompt = "a" * 3000 + "QUESTION"  # byte-level tiny: 3008 tokens, context 2048
    tiny.generate([prompt], GenerationParams(max_new_tokens=8, stop=()))
    assert len(seen[0]) == 2048 - 8
    assert tiny.tokenizer.decode(seen[0]).endswith("QUESTION")


def test_hub_id_offline_fails_with_one_clear_sentence():
    with pytest.raises(AssetUnavailable) as err:
        models.resolve_spec("someone/not-cached-model")
    message = str(err.value)
    assert "offline" in message and "someone/not-cached-model" in message and "\n" not in message


def test_bad_model_specs():
    with pytest.raises(Exception, match="GGUF file not found"):
        models.resolve_spec("/nonexistent/model.gguf")
    with pytest.raises(Exception, match="neither a preset"):
        models.resolve_spec("./no-such-dir")


@pytest.mark.slow
def test_smollm2_loads_offline_and_translates_something():
    pytest.importorskip("gguf")
    try:
        gen = load_generator("smollm2-135m", engine="hf")
    except AssetUnavailable as err:
        pytest.fail(f"smollm2-135m must be installed for this test (README set-up): {err}")
    assert gen.model.config.vocab_size == 49152
    out = gen.generate(["<|im_start|>user\nSay hello in French.<|im_end|>\n<|im_start|>assistant\n"],
                       GenerationParams(max_new_tokens=12))
    assert out[0].strip()


def test_beam_search_prefills_each_prompt_once_with_the_same_outputs(tiny, monkeypatch, flores):
    """generate repeats every prompt once per beam before its first forward pass; given the
    cache of each prompt computed once, it runs the prompts' last token only, and every beam
    output and n-best list stays the same."""
    from lingualift.inference import generate

    prompts = read_lines(flores / "eng_Latn.dev")[900:906] + ["Jambo dunia", "x"]
    params = GenerationParams(max_new_tokens=20, num_beams=4, batch_size=4, stop=("))", "rr"))
    widths = []
    hook = tiny.model.register_forward_pre_hook(
        lambda mod, a, kw: widths.append(tuple(kw["input_ids"].shape)), with_kwargs=True)
    once = tiny.generate(prompts, params), tiny.candidates(prompts, params, 3)
    hook.remove()
    assert widths[0][0] == 4 and widths[1] == (16, 1)  # the prompts once, then their last token on 4 beams
    monkeypatch.setattr(generate, "prefill_once", lambda *args: None)
    assert (tiny.generate(prompts, params), tiny.candidates(prompts, params, 3)) == once
