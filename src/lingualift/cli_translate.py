"""The `translate` and `serve` commands: a finished model put to use (cli.py holds the app)."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console

from lingualift.cli import _csv_list, app, console, progress_bar


@app.command("translate")
def translate_cmd(
    path: str = typer.Argument("-", help="Input: a text file, .jsonl (see --field), .tsv (see --column), or - for stdin."),
    model: str = typer.Option(..., help="Model spec: preset, HF directory, hub id, .gguf."),
    src_lang: str = typer.Option(..., help="Source language (code or name: en, eng_Latn, English)."),
    tgt_lang: str = typer.Option(..., help="Target language."),
    out: Optional[str] = typer.Option(None, help="Output file (default: stdout). Resumable: a killed run "
                                                 "re-run with the same command continues."),
    template: str = typer.Option("llamax-alpaca", help="Prompt: llamax-alpaca, tower-chatml, chat, or a Jinja file."),
    field: str = typer.Option("text", help="JSONL: the field to translate (the record comes back with 'translation')."),
    column: int = typer.Option(1, help="TSV: the 1-based column to translate."),
    batch_size: int = typer.Option(16, help="Lines per generation batch."),
    max_new_tokens: int = typer.Option(256, help="Longest translation, in tokens."),
    num_beams: int = typer.Option(1, help="Beam size (LLaMAX evaluates with 4)."),
    engine: str = typer.Option("auto", help="hf, vllm, or auto (vLLM when installed and a GPU is present)."),
) -> None:
    """Translate a file or stdin line by line: one output line per input line, empty in -> empty out.

    Example: lingualift translate --model tiny --src-lang en --tgt-lang sw notes.txt --out notes.sw.txt
    Example: echo "Good morning" | lingualift translate --model tiny --src-lang en --tgt-lang sw
    """
    from lingualift.translate_files import run

    def bar(total: int, done: int):
        return progress_bar("translating", total, done, stderr=True)

    written = run(model, src_lang, tgt_lang, path, out, template=template, field=field, column=column,
                  params={"batch_size": batch_size, "max_new_tokens": max_new_tokens, "num_beams": num_beams},
                  engine=engine, progress_factory=bar)
    if out:
        Console(stderr=True).print(f"{written} lines translated -> {out}")


@app.command("serve")
def serve_cmd(
    model: str = typer.Option(..., help="Model spec: preset, HF directory, hub id, .gguf."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, help="TCP port."),
    template: Optional[str] = typer.Option(None, help="Default prompt: chat (when the model has a chat template), "
                                                      "llamax-alpaca, tower-chatml, or a Jinja file."),
    max_batch_size: int = typer.Option(16, help="Most prompts (sentences) per generation batch; 1 turns batching off."),
    max_wait_ms: float = typer.Option(10.0, help="How long a batch waits for more prompts before it runs."),
    max_texts: int = typer.Option(64, help="Most texts per /v1/translate request."),
    max_chars: int = typer.Option(5000, help="Most characters per text."),
    max_new_tokens: int = typer.Option(256, help="Longest translation of one sentence, in tokens (requests may ask for less)."),
    timeout: float = typer.Option(120.0, help="Seconds before a request is answered 504."),
    api_key: Optional[str] = typer.Option(None, envvar="LINGUALIFT_API_KEY",
                                          help="Require this key on every route but /health and the page."),
    cors_origin: list[str] = typer.Option([], help="Allow browser calls from this origin (repeat; * for any)."),
    langs: Optional[str] = typer.Option(None, help="Languages the model was trained on, marked in /v1/languages "
                                                   "(default: those in the model's manifest.json)."),
    engine: str = typer.Option("auto", help="hf, vllm, or auto (vLLM when installed and a GPU is present)."),
) -> None:
    """Serve a model over HTTP: /v1/translate, /v1/chat/completions, /v1/languages, /metrics, a page at /.

    Concurrent requests share generation batches; long texts are split into sentences.
    OpenAPI schema at /openapi.json, interactive docs at /docs.

    Example: lingualift serve --model runs/demo/sft/model --port 8000
    Example: curl -s localhost:8000/v1/translate -H 'content-type: application/json'
    -d '{"texts": ["Good morning."], "source_lang": "en", "target_lang": "sw"}'
    """
    import uvicorn

    from lingualift.generate import load_generator
    from lingualift.languages import resolve_code
    from lingualift.serve.app import ServeSettings, create_app, trained_languages

    generator = load_generator(model, engine=engine)
    chosen = template or ("chat" if getattr(generator.tokenizer, "chat_template", None) else "llamax-alpaca")
    settings = ServeSettings(
        model_name=model, template=chosen, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms,
        max_texts=max_texts, max_chars=max_chars, max_new_tokens=max_new_tokens, timeout_s=timeout,
        api_key=api_key, cors_origins=cors_origin,
        trained_langs=[resolve_code(c) for c in _csv_list(langs)] if langs else trained_languages(model))
    console.print(f"serving {model} (template {chosen}, batches of up to {max_batch_size}) on http://{host}:{port}")
    uvicorn.run(create_app(generator, settings), host=host, port=port, log_level="info")
