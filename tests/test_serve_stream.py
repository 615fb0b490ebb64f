"""Streaming and per-request decoding in `lingualift serve` (issue 20 item 3, issue 19 item 1):
the official `openai` client against a live uvicorn server on 127.0.0.1 (a random port,
stopped by the fixture), chat completions streamed and not, /v1/translate streamed per
sentence, error events, and mbr decoding per request."""

import json

import httpx
import openai
import pytest

from lingualift.inference.generate import load_generator
from lingualift.serve.app import create_app
from lingualift.serve.config import ServeSettings
from test_serve_reliability import Server

SETTINGS = {"max_new_tokens": 12, "max_texts": 4, "max_chars": 400, "max_candidates": 4}
MESSAGES = [{"role": "user", "content": "Translate to Swahili: Good morning, my friend."}]
TEXTS = ["Good morning. How are you today?\n\nI am fine.", "The river is wide."]


@pytest.fixture(scope="module")
def generator():
    return load_generator("tiny", engine="hf")


@pytest.fixture(scope="module")
def server(generator):
    app = create_app(generator, ServeSettings(**SETTINGS), model_name="tiny")
    with Server(app) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=60)


def _events(reply) -> list:
    assert reply.headers["content-type"].startswith("text/event-stream")
    return [line.removeprefix("data: ") for line in reply.text.splitlines() if line.startswith("data: ")]


def test_openai_client_chat_completion(client):
    reply = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=8, temperature=0)
    assert reply.object == "chat.completion" and reply.choices[0].message.role == "assistant"
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert 0 < reply.usage.completion_tokens <= 8


@pytest.mark.parametrize("max_tokens, stop", [(1, None), (8, None), (12, None), (12, ["e", "ou"])])
def test_openai_client_stream_equals_the_whole_answer(client, max_tokens, stop):
    whole = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=max_tokens, temperature=0,
                                           stop=stop)
    chunks = list(client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=max_tokens,
                                                 temperature=0, stop=stop, stream=True))
    assert all(c.object == "chat.completion.chunk" and c.model == "tiny" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1].choices[0].finish_reason == whole.choices[0].finish_reason
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed == whole.choices[0].message.content  # greedy: the same text, piece by piece
    if max_tokens > 1 and streamed and not stop:
        assert sum(bool(c.choices[0].delta.content) for c in chunks) > 1  # it did arrive in pieces


def test_stream_ends_with_done(server):
    reply = httpx.post(f"{server.url}/v1/chat/completions", timeout=60, json={
        "messages": MESSAGES, "max_tokens": 4, "temperature": 0, "stream": True})
    events = _events(reply)
    assert events[-1] == "[DONE]" and json.loads(events[-2])["choices"][0]["finish_reason"] in ("stop", "length")


def test_translate_stream_sends_each_sentence_then_the_whole_response(server):
    body = {"texts": TEXTS, "source_lang": "en", "target_lang": "sw"}
    whole = httpx.post(f"{server.url}/v1/translate", json=body, timeout=60).json()
    events = [json.loads(e) for e in _events(httpx.post(f"{server.url}/v1/translate", json={**body, "stream": True},
                                                        timeout=60))]
    sentences, final = events[:-1], events[-1]
    assert [e["object"] for e in sentences] == ["translation.sentence"] * 4 and final["object"] == "translation"
    assert sorted((e["text"], e["sentence"]) for e in sentences) == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert [e["sentences"] for e in sentences if e["text"] == 0] == [3, 3, 3]
    for i in range(len(TEXTS)):  # the events rebuild each text, whitespace and all
        mine = sorted((e for e in sentences if e["text"] == i), key=lambda e: e["sentence"])
        assert "".join(e["lead"] + e["translation"] + e["trail"] for e in mine) == whole["translations"][i]
    del final["object"], final["timing"]["seconds"], whole["timing"]["seconds"]
    assert final == whole


def test_translate_stream_refusals_are_plain_json(server):
    reply = httpx.post(f"{server.url}/v1/translate", timeout=60, json={
        "texts": ["x"], "source_lang": "en", "target_lang": "klingonish", "stream": True})
    assert reply.status_code == 400 and reply.json()["error"]["type"] == "unknown_language"


def test_errors_in_a_stream_end_it_with_an_error_event(generator, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory, say")

    monkeypatch.setattr(generator, "stream", broken)
    monkeypatch.setattr(generator, "candidates", broken)
    app = create_app(generator, ServeSettings(**SETTINGS), model_name="tiny")
    with Server(app) as running:
        client = openai.OpenAI(base_url=f"{running.url}/v1", api_key="unused", max_retries=0, timeout=60)
        with pytest.raises(openai.APIError, match="generation failed"):
            list(client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=4, stream=True))
        reply = httpx.post(f"{running.url}/v1/translate", timeout=60, json={
            "texts": ["Hi."], "source_lang": "en", "target_lang": "sw", "stream": True})
        assert reply.status_code == 200
        assert json.loads(_events(reply)[-1]) == {"error": {
            "message": "generation failed (RuntimeError); the server log has the details", "type": "server_error",
            "code": 500}}
        metrics = httpx.get(f"{running.url}/metrics").text
    assert 'lingualift_stream_errors_total{code="500",route="/v1/chat/completions"} 1.0' in metrics
    assert 'lingualift_stream_errors_total{code="500",route="/v1/translate"} 1.0' in metrics


def test_stream_timeout_is_an_error_event(generator):
    app = create_app(generator, ServeSettings(**{**SETTINGS, "timeout": 0.0001}), model_name="tiny")
    with Server(app) as running:
        reply = httpx.post(f"{running.url}/v1/chat/completions", timeout=60, json={
            "messages": MESSAGES, "max_tokens": 4, "stream": True})
    error = json.loads(_events(reply)[-1])["error"]
    assert error["code"] == 504 and error["type"] == "timeout"


def test_mbr_per_request(server):
    body = {"texts": TEXTS, "source_lang": "en", "target_lang": "sw",
            "options": {"decoding": "mbr", "candidates": 3, "utility": "chrf++"}}
    reply = httpx.post(f"{server.url}/v1/translate", json=body, timeout=120)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert len(answer["translations"]) == len(TEXTS)
    assert answer["decoding"] == "mbr|utility:chrf++|candidates:3|from:beam n-best"
    standard = httpx.post(f"{server.url}/v1/translate", json={**body, "options": {}}, timeout=60).json()
    assert standard["decoding"] == "standard"
    rerank = httpx.post(f"{server.url}/v1/translate", timeout=120,
                        json={**body, "options": {"decoding": "rerank", "candidates": 2}}).json()
    assert rerank["decoding"] == "rerank|heuristic:lid+loop+length|candidates:2|from:beam n-best"
    over = httpx.post(f"{server.url}/v1/translate", json={**body, "options": {"decoding": "mbr", "candidates": 5}})
    assert over.status_code == 400 and "at most 4" in over.json()["error"]["message"]
    schema = httpx.get(f"{server.url}/openapi.json").json()["components"]["schemas"]
    assert schema["TranslateOptions"]["properties"]["candidates"]["maximum"] == 4


class _Chars:
    """A tokenizer whose tokens are characters (id = code point); U+FFFD stands for half a character."""

    def decode(self, ids, skip_special_tokens=True):
        return "".join(map(chr, ids))


@pytest.mark.parametrize("text, stop", [
    ("  Hello world.\n\nNext", ("\n\n",)),  # a two-character stop arrives one character at a time
    ("Hi ###there", ("###",)),
    ("Jambo  \t", ("\n",)),  # trailing whitespace never sent
    ("ab\ufffdc", ()),
])
def test_text_pieces_send_only_what_the_answer_keeps(text, stop):
    import torch

    from lingualift.inference.stopping import cut_at_stop
    from lingualift.inference.streaming import TextPieces

    pieces = []
    streamer = TextPieces(_Chars(), stop, pieces.append, cut_at_stop)
    streamer.put(torch.tensor([[1, 2, 3]]))  # the prompt: skipped
    final = cut_at_stop(text, stop).strip()
    for i, char in enumerate(text):
        streamer.put(torch.tensor([ord(char)]))
        assert final.startswith("".join(pieces)), (i, pieces)  # never a character the answer drops
    assert "".join(pieces) == final.rstrip("\ufffd")


def test_a_client_that_leaves_stops_its_generation(generator, monkeypatch):
    """Closing the connection after the first text sets the stream's cancel event: the model
    stops at its next token instead of generating the 400 the request asked for. (Closing it
    before generation began drops the queued job: the model never sees it.)"""
    import threading

    seen, returned = {}, threading.Event()
    real = generator.stream

    def watched(prompt, params, on_text, cancel=None):
        try:
            output = real(prompt, params, on_text, cancel)
            seen.update(cancelled=cancel.is_set(), tokens=len(generator.tokenizer(output)["input_ids"]))
            return output
        except Exception as err:
            seen["error"] = err
            raise
        finally:
            returned.set()

    monkeypatch.setattr(generator, "stream", watched)
    app = create_app(generator, ServeSettings(**{**SETTINGS, "max_new_tokens": 400}), model_name="tiny")
    with Server(app) as running, httpx.Client(timeout=60) as http:
        with http.stream("POST", f"{running.url}/v1/chat/completions", json={
                "messages": MESSAGES, "max_tokens": 400, "temperature": 0, "stream": True}) as reply:
            for line in reply.iter_lines():  # until the first text: generation has begun
                if line.startswith("data: ") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
                    break
        assert returned.wait(60)
    assert "error" not in seen and seen["cancelled"] and seen["tokens"] < 400, seen
