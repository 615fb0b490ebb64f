"""Prometheus metrics of one server (its own registry, so two apps in a process never mix)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Latency buckets span a cached tiny-model answer (ms) to a long document on CPU (minutes).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("lingualift_requests", "HTTP requests by route and status",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("lingualift_request_seconds", "request latency by route", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("lingualift_batch_size", "prompts per generation batch",
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.tokens = Counter("lingualift_generated_tokens", "new tokens generated", registry=self.registry)
        self.tokens_per_s = Gauge("lingualift_tokens_per_second", "new tokens per second of the last batch",
                                  registry=self.registry)
        self.stream_errors = Counter("lingualift_stream_errors", "streams ended by an error event (the status "
                                     "was 200 already) by route and code", ["route", "code"], registry=self.registry)
        self.queued = Gauge("lingualift_queued_prompts", "prompts waiting for a batch", registry=self.registry)

    def batch(self, size: int, seconds: float, new_tokens: int) -> None:
        self.batch_size.observe(size)
        self.tokens.inc(new_tokens)
        self.tokens_per_s.set(new_tokens / seconds if seconds else 0.0)

    def text(self) -> bytes:
        return generate_latest(self.registry)
