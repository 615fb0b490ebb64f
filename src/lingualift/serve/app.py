"""`lingualift serve`: one model in memory behind an HTTP API, a page and metrics.

Routes: POST /v1/translate, GET /v1/languages, GET /health, GET /metrics (Prometheus text),
POST /v1/chat/completions and GET /v1/models (the OpenAI subset existing clients use),
/openapi.json and /docs, and the page at /. Every error is JSON in OpenAI's shape,
{"error": {"message", "type", "code"}}: 400 unknown language or malformed JSON, 401 missing
or wrong API key, 413 too many texts / characters, 422 a body that does not fit the schema,
504 a request that outlived the timeout. With an API key set, every route but /health and
the page needs it (`Authorization: Bearer KEY` or `X-API-Key: KEY`); the page is static
HTML that asks for the key and sends it with each call.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from lingualift import __version__
from lingualift.core.io import InputError
from lingualift.inference.generate import GenerationParams, Generator
from lingualift.inference.prompts import get_template
from lingualift.lang import languages
from lingualift.serve import schemas
from lingualift.serve.batcher import Batcher
from lingualift.serve.config import ServeSettings
from lingualift.serve.prometheus import Metrics
from lingualift.serve.split import join, split, whole

OPEN_ROUTES = ("/health", "/")


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)


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

    def generate(prompts: list[str], params: GenerationParams) -> list[str]:
        before, start = generator.stats.new_tokens, time.perf_counter()
        outputs = generator.generate(prompts, params)
        metrics.batch(len(prompts), time.perf_counter() - start, generator.stats.new_tokens - before)
        return outputs

    batcher = Batcher(generate, max_batch_size=settings.max_batch_size, max_wait_ms=settings.max_wait_ms)

    @asynccontextmanager
    async def lifespan(app):
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="lingualift", version=__version__, lifespan=lifespan,
                  description=__doc__.split("\n\n")[1].replace("\n", " "))

    async def run(prompts: list[str], params: GenerationParams) -> list[str]:
        metrics.queued.set(batcher.queue.qsize() + len(batcher.held) + len(prompts))
        try:
            return await asyncio.wait_for(batcher.submit(prompts, params), settings.timeout)
        except TimeoutError:
            raise ApiError(504, f"request took longer than the server's timeout of {settings.timeout:g} s",
                           "timeout") from None

    body_limit = settings.max_texts * settings.max_chars * 4 + 65536  # UTF-8 worst case plus JSON overhead

    def refuse(request: Request) -> JSONResponse | None:
        """The answer to a request stopped before routing: no or wrong key, oversized body."""
        if settings.api_key and request.url.path not in OPEN_ROUTES and request.method != "OPTIONS":
            given = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
            if not hmac.compare_digest(given.encode(), settings.api_key.encode()):
                return _error(401, "missing or wrong API key (send Authorization: Bearer KEY or X-API-Key)",
                              "authentication_error")
        length = request.headers.get("content-length") or "0"
        if not length.isdigit():
            return _error(400, f"malformed Content-Length {length!r}", "invalid_request_error")
        if int(length) > body_limit:
            return _error(413, f"request body over {body_limit} bytes", "request_too_large")
        return None

    @app.middleware("http")
    async def guard(request: Request, call_next):
        start = time.perf_counter()
        response = refuse(request) or await call_next(request)
        # unrouted requests share one label: a scanner's random paths must not grow the metrics
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics.requests.labels(route, str(response.status_code)).inc()
        metrics.latency.labels(route).observe(time.perf_counter() - start)
        return response

    if settings.cors_origin:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origin, allow_methods=["GET", "POST"],
                           allow_headers=["authorization", "x-api-key", "content-type"])

    @app.exception_handler(ApiError)
    async def api_error(request, err: ApiError):
        return _error(err.status, err.message, err.kind)

    @app.exception_handler(HTTPException)
    async def http_error(request, err: HTTPException):
        return _error(err.status_code, str(err.detail), "not_found" if err.status_code == 404 else "http_error")

    @app.exception_handler(RequestValidationError)
    async def invalid(request, err: RequestValidationError):
        problems = err.errors()
        if any(p["type"] == "json_invalid" for p in problems):
            return _error(400, "malformed JSON body", "invalid_json")
        where = ".".join(str(x) for x in problems[0]["loc"][1:]) or "body"
        return _error(422, f"{where}: {problems[0]['msg']}", "invalid_request_error")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return resources.files("lingualift.serve").joinpath("page.html").read_text(encoding="utf-8")

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": model_name, "queued": batcher.queue.qsize() + len(batcher.held)}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus():
        return Response(metrics.text(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/languages", response_model=schemas.LanguagesResponse)
    async def list_languages():
        trained = set(trained_langs or [])
        return {"model": model_name, "languages": [
            {**lang.as_dict(), "trained": lang.code in trained} for lang in languages.all_languages()]}

    @app.post("/v1/translate", response_model=schemas.TranslateResponse)
    async def translate(body: schemas.TranslateRequest):
        start = time.perf_counter()
        src, tgt = _lang(body.source_lang, "source_lang"), _lang(body.target_lang, "target_lang")
        if len(body.texts) > settings.max_texts:
            raise ApiError(413, f"{len(body.texts)} texts; at most {settings.max_texts} per request", "request_too_large")
        for i, text in enumerate(body.texts):
            if len(text) > settings.max_chars:
                raise ApiError(413, f"texts[{i}] has {len(text)} characters; at most {settings.max_chars}",
                               "request_too_large")
        options = body.options
        chosen = template(options.template or default_template)
        pieces = [split(t, src.iso639_1 or src.iso639_3) if options.split_sentences else
                  ([] if not t.strip() else [whole(t)]) for t in body.texts]
        sentences = [p.text for text in pieces for p in text]
        params = GenerationParams(max_new_tokens=min(options.max_new_tokens or settings.max_new_tokens,
                                                     settings.max_new_tokens),
                                  num_beams=options.num_beams, stop=chosen.stop)
        outputs = await run([chosen.render(s, src.code, tgt.code, []) for s in sentences], params) if sentences else []
        answers = iter(chosen.extract(o, tgt.code) for o in outputs)
        translations = [join(text, [next(answers) for _ in text]) for text in pieces]
        return {"translations": translations, "source_lang": src.code, "target_lang": tgt.code,
                "model": model_name, "template": chosen.name,
                "timing": {"seconds": round(time.perf_counter() - start, 4), "sentences": len(sentences)}}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "lingualift"}]}

    @app.post("/v1/chat/completions", response_model=schemas.ChatResponse)
    async def chat(body: schemas.ChatRequest):
        if body.stream:
            raise ApiError(400, "stream: streaming responses are not supported; send stream false")
        if not getattr(tokenizer, "chat_template", None):
            raise ApiError(400, "this model has no chat template; use /v1/translate")
        messages = [m.model_dump() for m in body.messages]
        if sum(len(m["content"]) for m in messages) > settings.max_chars * settings.max_texts:
            raise ApiError(413, "messages too long", "request_too_large")
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        limit = min(body.max_completion_tokens or body.max_tokens or settings.max_new_tokens, settings.max_new_tokens)
        stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
        params = GenerationParams(max_new_tokens=limit, do_sample=body.temperature > 0,
                                  temperature=body.temperature or 1.0, top_p=body.top_p, stop=stop,
                                  seed=body.seed or 0)
        [output] = await run([prompt], params)
        prompt_tokens = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        completion_tokens = len(tokenizer(output, add_special_tokens=False)["input_ids"])
        return {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": model_name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": output.strip()},
                             "finish_reason": "length" if completion_tokens >= limit else "stop"}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}}

    return app
