"""Load test of `lingualift serve`: dynamic batching on against off, same model, same requests.

    python bench/serve.py [--model tiny] [--clients 16] [--seconds 20] [--max-requests 2000]
    python bench/serve.py --ttft [--model tiny] [--clients 1] [--requests 12] [--max-new-tokens 48]

For each mode a server runs as its own process on loopback (`lingualift serve`, batches of
up to 16 prompts / batches of 1) and N concurrent clients send one-sentence FLORES
`/v1/translate` requests for M seconds (and at most --max-requests in all). Prints
throughput, p50/p95 latency, errors and lost requests (sent but never answered) per mode,
and the throughput ratio. Greedy decoding: the same sentence gets the same work either way.

`--ttft` measures what streaming buys a user who waits: the same chat completion requests
(ask for a translation of one FLORES sentence, greedy, --max-new-tokens) sent once
streamed (`stream: true`; time to the first chunk holding text) and once not (time to the
whole response), alternating on one server, --clients at a time. Prints the medians, p95s,
their ratio, and whether the streamed text equalled the whole one.
"""

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from lingualift.core.io import read_lines

DATA = Path(os.environ.get("LINGUALIFT_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "swahili" / "eng_Latn.txt"


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(model: str, batch: int, new_tokens: int) -> tuple[subprocess.Popen, str]:
    port = _port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lingualift", "serve", "--model", model, "--port", str(port),
         "--max-batch-size", str(batch), "--max-new-tokens", str(new_tokens), "--max-texts", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    sys.exit(f"server for {model} did not start in 300 s")


async def _load(url: str, sentences: list[str], clients: int, seconds: float, max_requests: int) -> dict:
    latencies, errors, sent = [], 0, 0
    stop_at = time.perf_counter() + seconds

    async def client(index: int, http: httpx.AsyncClient) -> None:
        nonlocal errors, sent
        i = index
        while time.perf_counter() < stop_at and sent < max_requests:
            sent += 1
            start = time.perf_counter()
            try:
                reply = await http.post(url + "/v1/translate", json={
                    "texts": [sentences[i % len(sentences)]], "source_lang": "eng_Latn", "target_lang": "swh_Latn"})
                if reply.status_code == 200 and len(reply.json()["translations"]) == 1:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            i += clients

    began = time.perf_counter()
    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=clients)) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    wall = time.perf_counter() - began
    ordered = sorted(latencies) or [float("nan")]
    return {"ok": len(latencies), "errors": errors, "lost": sent - len(latencies) - errors, "seconds": wall,
            "per_s": len(latencies) / wall, "p50": statistics.median(ordered),
            "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]}


async def _ttft(url: str, sentences: list[str], clients: int, requests: int, new_tokens: int) -> dict:
    """Per request: time to the first streamed text, to the whole streamed answer, to the
    non-streamed response; and whether both texts agree (greedy decoding)."""
    import json

    rows, lock = [], asyncio.Semaphore(clients)

    async def one(http: httpx.AsyncClient, i: int) -> None:
        body = {"messages": [{"role": "user", "content": f"Translate into Swahili: {sentences[i % len(sentences)]}"}],
                "max_tokens": new_tokens, "temperature": 0}
        async with lock:
            start = time.perf_counter()
            first, text = None, ""
            async with http.stream("POST", url + "/v1/chat/completions", json={**body, "stream": True}) as reply:
                async for line in reply.aiter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    piece = json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                    if piece and first is None:
                        first = time.perf_counter() - start
                    text += piece
            streamed = time.perf_counter() - start
            start = time.perf_counter()
            whole = (await http.post(url + "/v1/chat/completions", json=body)).json()
            rows.append({"first": first if first is not None else streamed, "streamed": streamed,
                         "whole": time.perf_counter() - start,
                         "equal": text == whole["choices"][0]["message"]["content"]})

    async with httpx.AsyncClient(timeout=300) as http:
        await asyncio.gather(*(one(http, i) for i in range(requests)))
    return {key: sorted(r[key] for r in rows) for key in ("first", "streamed", "whole")} | {
        "equal": sum(r["equal"] for r in rows), "n": len(rows)}


def _ttft_report(args, sentences: list[str]) -> None:
    server, url = _start(args.model, 16, args.max_new_tokens)
    try:
        asyncio.run(_ttft(url, sentences, 1, 2, args.max_new_tokens))  # warm-up
        r = asyncio.run(_ttft(url, sentences, args.clients, args.requests, args.max_new_tokens))
    finally:
        server.terminate()
        server.wait(30)

    def p95(values):
        return values[min(len(values) - 1, int(0.95 * len(values)))]

    print(f"{args.model}, chat completions, {r['n']} requests, {args.clients} at a time, greedy, "
          f"{args.max_new_tokens} new tokens at most, one FLORES sentence per request")
    print("| measure                           |  p50 s |  p95 s |")
    print("|-----------------------------------|--------|--------|")
    for name, key in (("time to first token (stream)", "first"), ("whole streamed answer", "streamed"),
                      ("non-streaming response", "whole")):
        print(f"| {name:<33} | {statistics.median(r[key]):>6.3f} | {p95(r[key]):>6.3f} |")
    print(f"\nTime to first token / non-streaming response (p50): "
          f"{statistics.median(r['first']) / statistics.median(r['whole']):.2f}; "
          f"streamed text equal to non-streamed in {r['equal']} of {r['n']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--max-requests", type=int, default=2000)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--ttft", action="store_true", help="time to first token against the whole response")
    parser.add_argument("--requests", type=int, default=12, help="--ttft: requests of each kind")
    args = parser.parse_args()
    source = DATA / "flores200" / "eng_Latn.dev"
    sentences = read_lines(source if source.is_file() else SAMPLE)[:200]
    if args.ttft:
        if args.clients == parser.get_default("clients"):
            args.clients = 1  # one user waiting, unless asked otherwise
        return _ttft_report(args, sentences)
    rows = {}
    for name, batch in (("batching on (16)", 16), ("batching off (1)", 1)):
        server, url = _start(args.model, batch, args.max_new_tokens)
        try:
            asyncio.run(_load(url, sentences, 2, 2, 4))  # warm-up
            rows[name] = asyncio.run(_load(url, sentences, args.clients, args.seconds, args.max_requests))
            rows[name]["batch_mean"] = _mean_batch(httpx.get(url + "/metrics").text)
        finally:
            server.terminate()
            server.wait(30)
    print(f"{args.model}, {args.clients} clients, {args.seconds:g} s per mode, "
          f"{args.max_new_tokens} new tokens at most, one FLORES sentence per request")
    print("| mode             | requests | req/s | p50 s | p95 s | errors | lost | mean batch |")
    print("|------------------|----------|-------|-------|-------|--------|------|------------|")
    for name, r in rows.items():
        print(f"| {name:<16} | {r['ok']:>8} | {r['per_s']:>5.2f} | {r['p50']:>5.2f} | {r['p95']:>5.2f} "
              f"| {r['errors']:>6} | {r['lost']:>4} | {r['batch_mean']:>10.1f} |")
    on, off = rows.values()
    print(f"\nThroughput ratio (on / off): {on['per_s'] / off['per_s']:.2f}x")


def _mean_batch(metrics: str) -> float:
    values = dict(line.split(" ", 1) for line in metrics.splitlines()
                  if line.startswith(("lingualift_batch_size_sum", "lingualift_batch_size_count")))
    count = float(values.get("lingualift_batch_size_count", 0))
    return float(values.get("lingualift_batch_size_sum", 0)) / count if count else 0.0


if __name__ == "__main__":
    main()
