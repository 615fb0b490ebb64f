"""`lingualift data synth`: synthetic parallel data by back-translation or forward translation.

    lingualift data synth --config recipes/synth-demo.yaml --model smollm2-135m --out runs/bt.jsonl

Back-translation (`direction: back`) translates target-language text (`lang`) into `into`
(English) and pairs them the other way round, so the target side is human text; forward
translation (`direction: forward`, distillation from a stronger teacher) translates `lang`
text into `into` and keeps that order. Inputs are any `data build` source; monolingual
records in `lang`, or the `lang` side of parallel ones, are translated. Output: parallel
JSONL (DESIGN.md records) with `meta.synthetic` {model, direction, decoding, round} and, with
`tag`, a tag before the source (tagged back-translation, Caswell et al. 2019), which
`data build` and `data sft` read as a source.

Filters, each counted per reason in `OUT.manifest.json`: empty output, copy of the input,
wrong language (language ID, else script), length ratio, loop or over-generation, round-trip
chrF++ under a threshold (the output translated back and compared with the input), exact
duplicates, and a COMET-Kiwi QE score under a threshold when a QE model runs (reported as
unavailable otherwise). Work goes in chunks of `chunk` lines under `OUT.parts/`, each written
whole, with the run's fingerprint: a killed run re-run with the same command finishes the
chunks left; another config, model or input starts over, said in one line. With `tasks` > 1
or another executor the chunks are dealt to datatrove tasks (`synth_run.py`); how the work
runs is not in the fingerprint, so a run may resume on another executor.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, field_validator

from lingualift.core.config import StrictModel
from lingualift.core.io import InputError, write_json, write_text
from lingualift.data.config import Execution, Source
from lingualift.lang.languages import resolve_code
from lingualift.quality.config import DecodingSettings


class SynthFilters(StrictModel):
    language: bool = Field(True, description="drop outputs not in the language translated into")
    max_length_ratio: float = Field(3.0, gt=1, description="drop pairs whose longer side is this much longer")
    repetition: bool = Field(True, description="drop loops and outputs over twice the input's length")
    copies: bool = Field(True, description="drop outputs equal to their input")
    roundtrip_chrf: Optional[float] = Field(None, ge=0, le=100, description="translate back and drop pairs whose "
                                                                            "round trip scores under this chrF++")
    dedup: bool = Field(True, description="drop repeated pairs")
    qe_model: Optional[str] = Field(None, description="COMET-Kiwi model (through the COMET process)")
    qe_min: Optional[float] = Field(None, description="drop pairs the QE model scores under this")


class SynthConfig(DecodingSettings, Execution):
    sources: list[Source] = Field(..., description="inputs, as in `data build`")
    lang: str = Field(..., description="language of the text that is translated")
    into: str = Field("eng_Latn", description="language it is translated into")
    direction: Literal["back", "forward"] = Field("back", description="back: pairs into->lang (human target "
                                                                      "side); forward: pairs lang->into")
    template: str = Field("chat", description="prompt: chat, llamax-alpaca, tower-chatml or a Jinja file")
    filters: SynthFilters = Field(default_factory=SynthFilters)
    tag: Optional[str] = Field(None, description="put this tag before each source (tagged back-translation)")
    round: int = Field(0, ge=0, description="iteration of iterative back-translation, recorded in meta")
    chunk: int = Field(256, ge=1, description="lines per resumable chunk")
    tasks: int = Field(1, ge=1, description="tasks the chunks are dealt to, each loading the model once (local: "
                                            "--workers at a time; slurm: an array; ray: actors)")
    limit: Optional[int] = Field(None, ge=1, description="translate only the first N texts")

    _codes = field_validator("lang", "into")(resolve_code)


def read_texts(cfg: SynthConfig) -> list[str]:
    """The `lang` texts of the sources, blank lines dropped, unreadable lines stopping with file:line."""
    from lingualift.data.readers import Bad, read

    texts = []
    for source in cfg.sources:
        for item in read(source):
            if isinstance(item, Bad):
                raise item.error()
            if "text" in item and item["lang"] == cfg.lang:
                texts.append(item["text"])
            elif "src" in item:
                texts += [item[side] for side in ("src", "tgt") if item[f"{side}_lang"] == cfg.lang]
    texts = [t.strip() for t in texts if t.strip()][:cfg.limit]
    if not texts:
        raise InputError(f"no {cfg.lang} text in the sources (expected monolingual records in it, or pairs with "
                         "a side in it)", cfg.sources[0].path if cfg.sources else None)
    return texts


def reason(text: str, output: str, into: str, f: SynthFilters) -> str | None:
    """Why a translation must go (cheap checks first), or None."""
    from lingualift.data.dedup import key_text
    from lingualift.lang.langid import is_off_target
    from lingualift.metrics.repetition import OVERGEN_RATIO, is_loop

    if not output.strip():
        return "empty"
    if f.copies and key_text(output) == key_text(text):
        return "copy"
    if f.repetition and (is_loop(output) or len(output) > OVERGEN_RATIO * max(len(text), 1) + 10):
        return "repetition"
    shorter, longer = sorted((len(text), len(output)))
    if longer > f.max_length_ratio * max(shorter, 1):
        return "length_ratio"
    if f.language and is_off_target(output, into):
        return "language"
    return None


def _record(cfg: SynthConfig, text: str, output: str, model: str, how: str) -> dict:
    src, tgt = (output, text) if cfg.direction == "back" else (text, output)
    src_lang, tgt_lang = (cfg.into, cfg.lang) if cfg.direction == "back" else (cfg.lang, cfg.into)
    if cfg.tag:
        src = f"{cfg.tag} {src}"
    return {"src": src, "tgt": tgt, "src_lang": src_lang, "tgt_lang": tgt_lang,
            "meta": {"synthetic": {"model": model, "direction": cfg.direction, "decoding": how, "round": cfg.round,
                                   "tagged": bool(cfg.tag)}}}


def _chunk(cfg: SynthConfig, texts: list[str], generator, template, model: str) -> tuple[list[dict], Counter, bool]:
    """Translate one chunk, filter it; (kept records, removals by reason, whether a QE filter
    that was asked for could run)."""
    from dataclasses import replace

    from lingualift.quality import decoding

    params = replace(cfg.generation(), stop=template.stop)

    def translate(lines: list[str], src: str, tgt: str) -> tuple[list[str], str]:
        prompts = [template.render(t, src, tgt, []) for t in lines]
        return decoding.translate(generator, prompts, lines, src, tgt, params, lambda o: template.extract(o, tgt))

    outputs, how = translate(texts, cfg.lang, cfg.into)
    removed: Counter = Counter()
    kept = []
    for text, output in zip(texts, outputs):
        why = reason(text, output, cfg.into, cfg.filters)
        if why:
            removed[why] += 1
        else:
            kept.append((text, output))
    f = cfg.filters
    if f.roundtrip_chrf is not None and kept:
        from sacrebleu.metrics import CHRF

        back, _ = translate([o for _, o in kept], cfg.into, cfg.lang)
        chrf = CHRF(word_order=2)
        scores = [chrf.sentence_score(b, [t]).score for (t, _), b in zip(kept, back)]
        removed["roundtrip"] += sum(s < f.roundtrip_chrf for s in scores)
        kept = [pair for pair, s in zip(kept, scores) if s >= f.roundtrip_chrf]
    qe_ran = True
    if f.qe_model and f.qe_min is not None and kept:
        from lingualift.metrics.comet import segment_scores

        qe = segment_scores([o for _, o in kept], None, [t for t, _ in kept], f.qe_model)
        qe_ran = qe is not None
        if qe_ran:
            removed["qe"] += sum(q < f.qe_min for q in qe)
            kept = [pair for pair, q in zip(kept, qe) if q >= f.qe_min]
    return [_record(cfg, t, o, model, how) for t, o in kept], removed, qe_ran


def chunks_of(cfg: SynthConfig, texts: list[str]) -> list[list[str]]:
    from lingualift.core.io import batched

    return list(batched(texts, cfg.chunk))


def translate_chunks(cfg: SynthConfig, chunks: list[list[str]], model: str, parts: Path, rank: int = 0,
                     tasks: int = 1, advance=None) -> int:
    """Translate and filter chunk k for every k = rank mod tasks not done yet, each written
    whole (its `.json` last: the marker); the model is loaded only if there is work. Returns
    the lines done."""
    todo = [k for k in range(rank, len(chunks), tasks) if not (parts / f"part-{k:05d}.json").is_file()]
    if not todo:
        return 0
    from lingualift.core.records import dumps
    from lingualift.inference.generate import load_generator
    from lingualift.inference.prompts import get_template

    generator = load_generator(model, engine=cfg.engine, dtype=cfg.dtype)
    template = get_template(cfg.template, generator.tokenizer)
    for k in todo:
        records, removed, qe_ran = _chunk(cfg, chunks[k], generator, template, model)
        write_text(parts / f"part-{k:05d}.jsonl", "".join(map(dumps, records)))
        write_json(parts / f"part-{k:05d}.json", {"lines": len(chunks[k]), "kept": len(records), "qe_ran": qe_ran,
                                                  "removed": dict(removed)})  # last: marks the chunk done
        if advance:
            advance(len(chunks[k]))
    return sum(len(chunks[k]) for k in todo)
