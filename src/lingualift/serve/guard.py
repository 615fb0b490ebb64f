"""The server's outer layer: API key, body limit, the last word on errors, request metrics.

It is plain ASGI rather than FastAPI's `@app.middleware("http")` because each of its jobs
needs what that wrapper hides: the body limit must hold on the bytes actually read (a
chunked upload sends no Content-Length), so it wraps `receive`; metrics must count the
status that was sent, so it wraps `send`; and an unexpected exception must end as a JSON
500 on a connection that stays open, while Starlette's own last handler answers in plain
text and re-raises, which makes uvicorn drop the keep-alive connection. (Newer FastAPI has
a `max_body_size` of its own; the project supports versions without one.)
"""

from __future__ import annotations

import hmac
import logging
import time

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lingualift.serve.prometheus import Metrics

log = logging.getLogger("lingualift.serve")


def error_response(status: int, message: str, kind: str, headers: dict | None = None) -> JSONResponse:
    """The one error shape, {"error": {"message", "type", "code"}}. A message that quotes the
    client's input may hold a lone surrogate, which UTF-8 cannot carry: it is escaped here so
    writing the error never becomes a second one."""
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status,
                        headers=headers)


class BodyTooLarge(HTTPException):
    """Raised from `receive` once more bytes arrived than the limit. An HTTPException, because
    FastAPI turns any other exception met while reading a body into a 400."""

    def __init__(self, limit: int):
        # the unread rest of the body would be taken for the next request: close the connection
        super().__init__(413, f"request body over {limit} bytes", headers={"connection": "close"})


class Guard:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, body_limit: int, api_key: str | None,
                 open_routes: tuple[str, ...]):
        self.app, self.metrics, self.body_limit = app, metrics, body_limit
        self.api_key, self.open_routes = api_key, open_routes

    def refuse(self, scope: Scope) -> JSONResponse | None:
        """The answer to a request stopped before routing: no or wrong key, a declared oversized body."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if self.api_key and scope["path"] not in self.open_routes and scope["method"] != "OPTIONS":
            given = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
            if not hmac.compare_digest(given.encode(), self.api_key.encode()):
                return error_response(401, "missing or wrong API key (send Authorization: Bearer KEY or X-API-Key)",
                                      "authentication_error")
        length = headers.get("content-length") or "0"
        if not length.isdigit():
            return error_response(400, f"malformed Content-Length {length!r}", "invalid_request_error")
        if int(length) > self.body_limit:
            return error_response(413, f"request body over {self.body_limit} bytes", "request_too_large",
                                  {"connection": "close"})
        return None

    def limited(self, receive: Receive) -> Receive:
        """`receive` that counts the body bytes and stops at the limit, whatever the headers said."""
        read = 0

        async def receive_limited() -> Message:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.body_limit:
                    raise BodyTooLarge(self.body_limit)
            return message

        return receive_limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, sent = time.perf_counter(), {"status": None, "done": False}

        async def send_seen(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                sent["done"] = True
            await send(message)

        try:
            refusal = self.refuse(scope)
            if refusal is not None:
                await refusal(scope, receive, send_seen)
            else:
                await self.app(scope, self.limited(receive), send_seen)
        except Exception as err:
            if sent["done"]:  # the answer is out; failing now would only drop the connection
                log.exception("error after the response to %s %s was sent", scope["method"], scope["path"])
            elif sent["status"] is not None:
                raise  # half a response: only closing the connection can end it
            elif isinstance(err, HTTPException):  # raised outside the routes' handlers (body limit)
                await error_response(err.status_code, str(err.detail), "request_too_large"
                                     if err.status_code == 413 else "http_error", err.headers)(scope, receive, send_seen)
            else:
                log.exception("internal error in %s %s", scope["method"], scope["path"])
                await error_response(500, f"internal error ({type(err).__name__}); the server log has the details",
                                     "server_error")(scope, receive, send_seen)
        finally:
            # unrouted requests share one label: a scanner's random paths must not grow the metrics
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route, str(sent["status"] or 500)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)
