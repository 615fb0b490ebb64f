"""`lingualift serve`: one model in memory behind an HTTP API, a page and metrics.

Routes: POST /v1/translate, GET /v1/languages, GET /health, GET /metrics (Prometheus text),
POST /v1/chat/completions and GET /v1/models (the OpenAI subset existing clients use),
/openapi.json and /docs, and the page at /. `stream: true` in a chat or translate body answers
with server-sent events (serve/stream.py). /v1/translate decodes per request as its options
say (standard, or mbr / rerank over candidates: quality/decoding.py), and also serves an
encoder-decoder MT model (NLLB, M2M-100, MADLAD), which is given the source sentences
instead of prompts. Every error is JSON in OpenAI's shape,
{"error": {"message", "type", "code"}}: 400 unknown language, malformed JSON or a text that
is not encodable (a lone surrogate), 401 missing or wrong API key, 413 too many texts /
characters or a body over the limit, 422 a body that does not fit the schema, 500 an
internal error, 504 a request that outlived the timeout (docs/reliability.md, Server). With
an API key set, every route but /health and the page needs it (`Authorization: Bearer KEY`
or `X-API-Key: KEY`); the page is static HTML that asks for the key and sends it with each
call.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from importlib import resources

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from lingualift import __version__
from lingualift.core.io import InputError
from lingualift.core.records import text_problem
from lingualift.inference.generate import GenerationParams, Generator
from lingualift.inference.prompts import get_template
from lingualift.lang import languages
from lingualift.quality import decoding
from lingualift.serve import schemas, stream
from lingualift.serve.batcher import Batcher
from lingualift.serve.config import ServeSettings
from lingualift.serve.guard import Guard, error_response
from lingualift.serve.prometheus import Metrics
from lingualift.serve.split import join, split, whole

OPEN_ROUTES = ("/health", "/")
log = logging.getLogger("lingualift.serve")


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


@dataclass(frozen=True)
class TranslateJob:
    """The batch key of a translated sentence: sentences batch together only when these are equal."""

    params: GenerationParams
    src: str
    tgt: str
    template: str


def _check_texts(value, where: str = "") -> None:
    """Refuse a request holding a string that is not text (a lone surrogate, valid JSON) before
    any of it joins a generation batch, where the tokenizer would fail the whole batch."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_texts(key, where)
            _check_texts(item, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_texts(item, f"{where}[{i}]")
    elif problem := text_problem(value):
        raise ApiError(400, f"{where or 'body'}: {problem}", "invalid_text")


def _lang(query: str, role: str) -> languages.Language:
    try:
        return languages.resolve(query)
    except InputError as err:
        raise ApiError(400, f"{role}: {err}", "unknown_language") from None


def default_template_name(tokenizer, chosen: str | None) -> str:
    """The server's prompt: the one asked for, else chat where the model has a chat template."""
    return chosen or ("chat" if getattr(tokenizer, "chat_template", None) else "llamax-alpaca")


def trained_languages(spec: str) -> list[str]:
    """Languages a model was adapted to: the `langs` of the manifest `vocab expand` wrote,
    found by following the training manifests back (model -> the manifest beside it, in
    OUT/ for `train`, STAGE/train/ for `run` -> its config.model -> ...). None for a preset
    or hub model, or a model adapted without vocabulary expansion."""
    import json
    from pathlib import Path

    folder, seen = Path(spec), set()
    while folder.is_dir() and folder.resolve() not in seen:
        seen.add(folder.resolve())
        manifests = [m for m in (folder / "manifest.json", folder.parent / "manifest.json",
                                 folder.parent / "train" / "manifest.json") if m.is_file()]
        if not manifests:
            return []
        found = [json.loads(m.read_text(encoding="utf-8")) for m in manifests]
        langs = next((m["langs"] for m in found if m.get("langs")), None)
        if langs:
            return list(langs)
        parent = next((m["config"]["model"] for m in found if isinstance(m.get("config"), dict)
                       and m["config"].get("model")), None)
        if parent is None:
            return []
        folder = Path(parent)
    return []


def create_app(generator: Generator, settings: ServeSettings, *, model_name: str,
               trained_langs: list[str] | None = None) -> FastAPI:
    """The app around a loaded generator; tests and `lingualift serve` both build it here."""
    metrics = Metrics()
    tokenizer = generator.tokenizer
    templates = {}

    def template(name: str):
        if name not in templates:
            try:
                templates[name] = get_template(name, tokenizer)
            except InputError as err:
                raise ApiError(400, str(err)) from None
        return templates[name]

    default_template = default_template_name(tokenizer, settings.template)
    template(default_template)  # a bad server template fails at start, not on the first request

    def generate(items: list, key) -> list:
        """One batch, run by the batcher in its thread: a stream (one prompt), translations
        ((prompt, source) pairs -> (translation, how chosen)), or chat prompts."""
        before, start = generator.stats.new_tokens, time.perf_counter()
        if isinstance(key, stream.StreamJob):
            outputs = [generator.stream(items[0], key.params, key.on_text, key.cancel)]
        elif isinstance(key, TranslateJob):
            chosen = template(key.template) if not generator.seq2seq else None
            picked, how = decoding.translate(
                generator, [p for p, _ in items], [s for _, s in items], key.src, key.tgt,
                replace(key.params, batch_size=len(items)),
                (lambda o: chosen.extract(o, key.tgt)) if chosen else str.strip)
            outputs = [(t, how) for t in picked]
        else:
            outputs = generator.generate(items, replace(key, batch_size=len(items)))
        metrics.batch(len(items), time.perf_counter() - start, generator.stats.new_tokens - before)
        return outputs

    batcher = Batcher(generate, max_batch_size=settings.max_batch_size, max_wait_ms=settings.max_wait_ms)
    # read at each scrape, so it is the queue as it is (0 when idle), not as the last request saw it
    metrics.queued.set_function(batcher.waiting)
    streams = stream.Streams(batcher, settings.timeout, lambda route, code: metrics.stream_errors.labels(
        route, str(code)).inc())

    @asynccontextmanager
    async def lifespan(app):
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="lingualift", version=__version__, lifespan=lifespan,
                  description=__doc__.split("\n\n")[1].replace("\n", " "))

    def openapi() -> dict:
        """The schema with this server's own limits, so a client sees them before it gets a 413."""
        if app.openapi_schema is None:
            texts = FastAPI.openapi(app)["components"]["schemas"]["TranslateRequest"]["properties"]["texts"]
            texts["maxItems"], texts["items"]["maxLength"] = settings.max_texts, settings.max_chars
            candidates = app.openapi_schema["components"]["schemas"]["TranslateOptions"]["properties"]["candidates"]
            candidates["maximum"] = settings.max_candidates
        return app.openapi_schema

    app.openapi = openapi

    async def run(prompts: list, params) -> list:
        try:
            return await asyncio.wait_for(batcher.submit(prompts, params), settings.timeout)
        except TimeoutError:
            raise ApiError(504, f"request took longer than the server's timeout of {settings.timeout:g} s",
                           "timeout") from None
        except Exception as err:  # this request's prompts failed even alone (the batcher retried them)
            log.exception("generation failed")
            raise ApiError(500, f"generation failed ({type(err).__name__}); the server log has the details",
                           "server_error") from None

    # 12 bytes a character: an astral character JSON-escaped as a surrogate pair (\ud83d\ude00), as
    # json.dumps (Python's requests) sends every non-ASCII text; plus 64 KiB for the rest of the body
    body_limit = settings.max_texts * settings.max_chars * 12 + 65536

    # Added before CORS, so CORS wraps it and a refusal still carries the CORS headers.
    app.add_middleware(Guard, metrics=metrics, body_limit=body_limit, api_key=settings.api_key,
                       open_routes=OPEN_ROUTES)

    if settings.cors_origin:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origin, allow_methods=["GET", "POST"],
                           allow_headers=["authorization", "x-api-key", "content-type"])

    @app.exception_handler(ApiError)
    async def api_error(request, err: ApiError):
        return error_response(err.status, err.message, err.kind)

    @app.exception_handler(HTTPException)
    async def http_error(request, err: HTTPException):
        kind = {404: "not_found", 413: "request_too_large"}.get(err.status_code, "http_error")
        return error_response(err.status_code, str(err.detail), kind, getattr(err, "headers", None))  # 405 keeps Allow

    @app.exception_handler(RequestValidationError)
    async def invalid(request, err: RequestValidationError):
        problems = err.errors()
        if any(p["type"] == "json_invalid" for p in problems):
            return error_response(400, "malformed JSON body", "invalid_json")
        where = ".".join(str(x) for x in problems[0]["loc"][1:]) or "body"
        return error_response(422, f"{where}: {problems[0]['msg']}", "invalid_request_error")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return resources.files("lingualift.serve").joinpath("page.html").read_text(encoding="utf-8")

    @app.get("/health", responses=schemas.error_responses(500))
    async def health():
        return {"status": "ok", "model": model_name, "queued": batcher.waiting()}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus():
        return Response(metrics.text(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/languages", response_model=schemas.LanguagesResponse, responses=schemas.error_responses(401, 500))
    async def list_languages():
        trained = set(trained_langs or [])
        return {"model": model_name, "languages": [
            {**lang.as_dict(), "trained": lang.code in trained} for lang in languages.all_languages()]}

    @app.post("/v1/translate", response_model=schemas.TranslateResponse,
              responses={**schemas.STREAMED, **schemas.error_responses(400, 401, 413, 422, 500, 504)})
    async def translate(body: schemas.TranslateRequest):
        start = time.perf_counter()
        _check_texts(body.model_dump())
        src, tgt = _lang(body.source_lang, "source_lang"), _lang(body.target_lang, "target_lang")
        if len(body.texts) > settings.max_texts:
            raise ApiError(413, f"{len(body.texts)} texts; at most {settings.max_texts} per request", "request_too_large")
        for i, text in enumerate(body.texts):
            if len(text) > settings.max_chars:
                raise ApiError(413, f"texts[{i}] has {len(text)} characters; at most {settings.max_chars}",
                               "request_too_large")
        options = body.options
        if options.decoding != "standard" and options.candidates > settings.max_candidates:
            raise ApiError(400, f"options.candidates: {options.candidates}; at most {settings.max_candidates} "
                                "on this server")
        if generator.seq2seq:
            from lingualift.inference.mt import language_tokens

            try:  # here, not in the batch: a direction the MT model lacks is the client's 400, not a 500
                language_tokens(tokenizer, src.code, tgt.code)
            except InputError as err:
                raise ApiError(400, str(err), "unknown_language") from None
        chosen = template(options.template or default_template)
        pieces = [split(t, src.iso639_1 or src.iso639_3) if options.split_sentences else
                  ([] if not t.strip() else [whole(t)]) for t in body.texts]
        places = [(i, j) for i, text in enumerate(pieces) for j in range(len(text))]
        params = GenerationParams(max_new_tokens=min(options.max_new_tokens or settings.max_new_tokens,
                                                     settings.max_new_tokens),
                                  num_beams=options.num_beams, stop=chosen.stop, decoding=options.decoding,
                                  candidates=options.candidates, utility=options.utility)
        job = TranslateJob(params, src.code, tgt.code, chosen.name)
        # an MT model is given the source sentences; a causal model the prompts
        items = [(s if generator.seq2seq else chosen.render(s, src.code, tgt.code, []), s)
                 for s in (pieces[i][j].text for i, j in places)]

        def answer(results: dict) -> dict:
            translations = [join(text, [results[i, j][0] for j in range(len(text))]) for i, text in enumerate(pieces)]
            return {"translations": translations, "source_lang": src.code, "target_lang": tgt.code,
                    "model": model_name, "template": "none (encoder-decoder)" if generator.seq2seq else chosen.name,
                    "decoding": next(iter(results.values()))[1] if results else options.decoding,
                    "timing": {"seconds": round(time.perf_counter() - start, 4), "sentences": len(places)}}

        if body.stream:
            return stream.response(streams.translate(batcher.enqueue(items, job) if items else [], places, pieces,
                                                     start, answer))
        outputs = await run(items, job) if items else []
        return answer(dict(zip(places, outputs)))

    @app.get("/v1/models", responses=schemas.error_responses(401, 500))
    async def models():
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "lingualift"}]}

    @app.post("/v1/chat/completions", response_model=schemas.ChatResponse,
              responses={**schemas.STREAMED, **schemas.error_responses(400, 401, 413, 422, 500, 504)})
    async def chat(body: schemas.ChatRequest):
        start = time.perf_counter()
        _check_texts(body.model_dump())
        if not getattr(tokenizer, "chat_template", None):
            raise ApiError(400, "this model has no chat template; use /v1/translate")
        messages = [m.model_dump() for m in body.messages]
        if sum(len(m["content"]) for m in messages) > settings.max_chars * settings.max_texts:
            raise ApiError(413, "messages too long", "request_too_large")
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        limit = min(body.max_completion_tokens or body.max_tokens or settings.max_new_tokens, settings.max_new_tokens)
        stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
        # Below 0.01 sampling is greedy decoding in all but exact ties, and far below (1e-93, found by
        # the fuzzer) logits / temperature overflow to inf and sampling fails: such a request is greedy.
        sample = body.temperature >= 0.01
        params = GenerationParams(max_new_tokens=limit, do_sample=sample,
                                  temperature=body.temperature if sample else 1.0, top_p=body.top_p, stop=stop,
                                  seed=body.seed or 0)

        def finish_reason(output: str) -> str:
            return "length" if len(tokenizer(output, add_special_tokens=False)["input_ids"]) >= limit else "stop"

        if body.stream:
            return stream.response(streams.chat(prompt, params, model_name, start, finish_reason))
        [output] = await run([prompt], params)
        prompt_tokens = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        completion_tokens = len(tokenizer(output, add_special_tokens=False)["input_ids"])
        return {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": model_name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": output.strip()},
                             "finish_reason": finish_reason(output)}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}}

    return app
