"""The HTTP server: `lingualift serve` (app), dynamic batching, sentence splitting, metrics."""
