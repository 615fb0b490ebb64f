"""`lingualift translate` and `lingualift serve`: a finished model put to use."""

from __future__ import annotations

from typing import Optional

import typer

from lingualift.cli.common import console, err_console, stderr_bar
from lingualift.cli.options import stage_command
from lingualift.serve.config import ServeSettings
from lingualift.translate.config import FileTranslateSettings

MODEL_HELP = "Model spec: preset, HF directory, hub id, .gguf."


def register(app: typer.Typer) -> None:
    stage_command(app, "translate", FileTranslateSettings)(translate_cmd)
    stage_command(app, "serve", ServeSettings)(serve_cmd)


def translate_cmd(
    settings: FileTranslateSettings,
    path: str = typer.Argument("-", help="Input: a text file, .jsonl (see --field), .tsv (see --column), or - for "
                                         "stdin."),
    model: str = typer.Option(..., help=MODEL_HELP),
    out: Optional[str] = typer.Option(None, help="Output file (default: stdout). Resumable: a killed run re-run "
                                                 "with the same command continues; a partial of another run "
                                                 "(model, settings, input) is refused."),
) -> None:
    """Translate a file or stdin line by line: one output line per input line, empty in -> empty out.

    Example: lingualift translate --model tiny --src-lang en --tgt-lang sw notes.txt --out notes.sw.txt
    Example: echo "Good morning" | lingualift translate --model tiny --src-lang en --tgt-lang sw
    """
    from lingualift.translate.files import run

    written = run(settings, model=model, path=path, out=out, progress=stderr_bar if out else None)
    if out:
        err_console.print(f"{written} lines translated -> {out}")


def serve_cmd(
    settings: ServeSettings,
    model: str = typer.Option(..., help=MODEL_HELP),
) -> None:
    """Serve a model over HTTP: /v1/translate, /v1/chat/completions, /v1/languages, /metrics, a page at /.

    Concurrent requests share generation batches; long texts are split into sentences.
    OpenAPI schema at /openapi.json, interactive docs at /docs.

    Example: lingualift serve --model runs/demo/sft/model --port 8000
    Example: curl -s localhost:8000/v1/translate -H 'content-type: application/json'
    -d '{"texts": ["Good morning."], "source_lang": "en", "target_lang": "sw"}'
    """
    import uvicorn

    from lingualift.inference.generate import load_generator
    from lingualift.lang.languages import resolve_many
    from lingualift.serve.app import create_app, default_template_name, trained_languages

    generator = load_generator(model, engine=settings.engine)
    trained = resolve_many(settings.langs) if settings.langs else trained_languages(model)
    app = create_app(generator, settings, model_name=model, trained_langs=trained)
    console.print(f"serving {model} (template {default_template_name(generator.tokenizer, settings.template)}, "
                  f"batches of up to {settings.max_batch_size}) on http://{settings.host}:{settings.port}")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
