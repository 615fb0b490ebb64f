"""`lingualift serve`: the HTTP API through a real HTTP client (Starlette's TestClient, httpx),
every 4xx case, the API key, CORS, metrics; dynamic batching and sentence splitting alone."""

import asyncio
import json

import pytest
from fastapi.testclient import TestClient

from lingualift.inference.generate import GenerationParams, load_generator
from lingualift.serve.app import create_app
from lingualift.serve.batcher import Batcher
from lingualift.serve.config import ServeSettings
from lingualift.serve.split import join, split

KEY = "s3cret"


@pytest.fixture(scope="module")
def generator():
    return load_generator("tiny", engine="hf")


def _client(generator, **settings) -> TestClient:
    defaults = {"max_new_tokens": 8, "max_texts": 4, "max_chars": 400}
    return TestClient(create_app(generator, ServeSettings(**{**defaults, **settings}), model_name="tiny",
                                 trained_langs=["swh_Latn"]))


@pytest.fixture(scope="module")
def client(generator):
    with _client(generator) as c:
        yield c


def _translate(client, **body):
    return client.post("/v1/translate", json={"texts": ["Good morning."], "source_lang": "en",
                                              "target_lang": "sw", **body})


def test_translate_happy_path(client):
    texts = ["Good morning. How are you today?\n\nI am fine.", "", "  Hello!  "]
    reply = _translate(client, texts=texts)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["source_lang"] == "eng_Latn" and body["target_lang"] == "swh_Latn" and body["model"] == "tiny"
    assert body["template"] == "chat"  # the tiny model has a ChatML template
    out = body["translations"]
    assert len(out) == 3 and out[1] == ""  # empty in, empty out
    assert body["timing"]["sentences"] == 4  # three sentences + one, the empty text asks nothing
    assert out[0].count("\n\n") == 1  # the paragraph break survives the split and join
    assert out[2].startswith("  ") and out[2].endswith("  ")


def test_languages_health_models_openapi(client):
    langs = client.get("/v1/languages").json()
    assert langs["model"] == "tiny" and len(langs["languages"]) == 204
    assert [x["code"] for x in langs["languages"] if x["trained"]] == ["swh_Latn"]
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/v1/models").json()["data"][0]["id"] == "tiny"
    schema = client.get("/openapi.json").json()
    assert {"/v1/translate", "/v1/languages", "/v1/chat/completions"} <= set(schema["paths"])
    page = client.get("/")
    assert page.status_code == 200 and 'id="langlist"' in page.text and "http" not in page.text.split("<script>")[0].lower()


def test_chat_completions_openai_shape(client):
    reply = client.post("/v1/chat/completions", json={
        "model": "tiny", "messages": [{"role": "user", "content": "Translate to Swahili: Good morning."}],
        "max_tokens": 5, "temperature": 0})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["choices"][0]["message"]["role"] == "assistant"
    usage = body["usage"]
    assert 0 < usage["completion_tokens"] <= 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    # streaming: tests/test_serve_stream.py


@pytest.mark.parametrize("request_kwargs, status, words", [
    ({"json": {"texts": ["x"], "source_lang": "en", "target_lang": "klingonish"}}, 400, "target_lang: unknown language"),
    ({"json": {"texts": ["x"], "source_lang": "englsh", "target_lang": "sw"}}, 400, "close matches"),
    ({"content": b'{"texts": ["x"', "headers": {"content-type": "application/json"}}, 400, "malformed JSON"),
    ({"json": {"source_lang": "en", "target_lang": "sw"}}, 422, "texts: Field required"),
    ({"json": {"texts": [], "source_lang": "en", "target_lang": "sw"}}, 422, "texts"),
    ({"json": {"texts": ["x"], "source_lang": "en", "target_lang": "sw", "options": {"beams": 2}}}, 422, "options.beams"),
    ({"json": {"texts": ["x"], "source_lang": "en", "target_lang": "sw", "options": {"template": "/etc/passwd"}}},
     422, "options.template"),
    ({"json": {"texts": ["x"] * 5, "source_lang": "en", "target_lang": "sw"}}, 413, "at most 4 per request"),
    ({"json": {"texts": ["y" * 401], "source_lang": "en", "target_lang": "sw"}}, 413, "texts[0] has 401 characters"),
    ({"content": b"{}", "headers": {"content-type": "application/json", "content-length": "99999999"}}, 413, "body over"),
    ({"content": b"{}", "headers": {"content-type": "application/json", "content-length": "12x"}}, 400,
     "malformed Content-Length"),
])
def test_translate_rejects_bad_requests(client, request_kwargs, status, words):
    reply = client.post("/v1/translate", **request_kwargs)
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert words in error["message"] and error["code"] == status


def test_unknown_route_and_method_are_json(client):
    assert client.get("/v1/nothing").json()["error"]["code"] == 404
    assert client.get("/v1/translate").json()["error"]["code"] == 405


def test_timeout_is_504(generator):
    with _client(generator, timeout=0.0001) as slow:
        reply = _translate(slow)
    assert reply.status_code == 504 and reply.json()["error"]["type"] == "timeout"


def test_api_key_on_every_route_but_health_and_page(generator):
    with _client(generator, api_key=KEY) as locked:
        for path in ("/v1/languages", "/metrics", "/openapi.json", "/v1/models"):
            assert locked.get(path).status_code == 401, path
        refused = _translate(locked)
        assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"
        assert locked.get("/v1/languages", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert locked.get("/health").status_code == 200 and locked.get("/").status_code == 200
        assert locked.get("/v1/languages", headers={"authorization": f"Bearer {KEY}"}).status_code == 200
        assert locked.post("/v1/translate", headers={"x-api-key": KEY}, json={
            "texts": ["Hi."], "source_lang": "en", "target_lang": "sw"}).status_code == 200


def test_cors_only_when_configured(client, generator):
    preflight = {"origin": "https://example.org", "access-control-request-method": "POST"}
    assert "access-control-allow-origin" not in client.options("/v1/translate", headers=preflight).headers
    with _client(generator, cors_origin=["https://example.org"]) as open_client:
        reply = open_client.options("/v1/translate", headers=preflight)
        assert reply.headers["access-control-allow-origin"] == "https://example.org"


def test_metrics_count_requests_batches_tokens(generator):
    with _client(generator) as c:
        _translate(c, texts=["One. Two. Three."])
        c.post("/v1/translate", json={"texts": ["x"], "source_lang": "xx-nope", "target_lang": "sw"})
        text = c.get("/metrics").text
    assert 'lingualift_requests_total{route="/v1/translate",status="200"} 1.0' in text
    assert 'lingualift_requests_total{route="/v1/translate",status="400"} 1.0' in text
    assert 'lingualift_request_seconds_count{route="/v1/translate"} 2.0' in text
    assert "lingualift_batch_size_sum 3.0" in text  # the three sentences went as one batch
    generated = [line for line in text.splitlines() if line.startswith("lingualift_generated_tokens_total")]
    assert float(generated[0].split()[1]) > 0


def _run_batcher(max_batch_size: int, params: list[GenerationParams]) -> list[tuple[int, int]]:
    """Submit one prompt per entry of `params` at once; the batches the model saw."""
    seen = []

    def generate(prompts, p):
        seen.append((len(prompts), p.max_new_tokens))
        return [f"out:{x}" for x in prompts]

    async def main():
        batcher = Batcher(generate, max_batch_size=max_batch_size, max_wait_ms=20)
        batcher.start()
        outs = await asyncio.gather(*(batcher.submit([f"p{i}"], p) for i, p in enumerate(params)))
        await batcher.stop()
        assert outs == [[f"out:p{i}"] for i in range(len(params))]  # every answer to its own request

    asyncio.run(main())
    return seen


def test_batcher_gathers_concurrent_requests():
    same = [GenerationParams(max_new_tokens=8)] * 10
    assert sorted(_run_batcher(4, same)) == [(2, 8), (4, 8), (4, 8)]
    assert _run_batcher(1, same) == [(1, 8)] * 10  # batching off: one prompt per call
    mixed = [GenerationParams(max_new_tokens=8 if i % 2 else 16) for i in range(6)]
    assert sorted(_run_batcher(8, mixed)) == [(3, 8), (3, 16)]  # settings never mixed in one batch


@pytest.mark.parametrize("lang, text, count", [
    ("en", "Dr. Smith paid $3.50 at 10 a.m. today. Then he left!\n\nA new paragraph? Yes.", 4),
    ("sw", "Habari za asubuhi. Mimi ni mwalimu wa Kiswahili.  Asante sana!", 3),
    ("zh", "你好。我是老师！谢谢。", 3),
    ("hi", "मेरा नाम राम है। मैं दिल्ली में रहता हूँ।", 2),
    ("en", " \n ", 0),
])
def test_split_keeps_whitespace(lang, text, count):
    pieces = split(text, lang)
    assert len(pieces) == count
    assert join(pieces, [p.text for p in pieces]) == (text if text.strip() else "")
    assert all(p.text == p.text.strip() and p.text for p in pieces)


def test_trained_languages_follow_the_manifests(tmp_path):
    """A run's final model knows its languages through sft -> cpt -> vocab manifests."""
    from lingualift.serve.app import trained_languages

    def stage(name: str, manifest: dict, beside: bool = False):
        model = tmp_path / name / "model"
        model.mkdir(parents=True)
        target = model / "manifest.json" if beside else tmp_path / name / "train" / "manifest.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(manifest))
        return model

    vocab = stage("vocab", {"langs": ["swh_Latn", "yor_Latn"]}, beside=True)
    cpt = stage("cpt", {"config": {"model": str(vocab)}})
    sft = stage("sft", {"config": {"model": str(cpt)}})
    assert trained_languages(str(sft)) == ["swh_Latn", "yor_Latn"]
    loop = stage("loop", {"config": {"model": str(tmp_path / "loop" / "model")}})
    assert trained_languages(str(loop)) == [] and trained_languages("tiny") == []
