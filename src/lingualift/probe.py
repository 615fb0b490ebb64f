"""`lingualift probe`: how well a base model serves each language, before any training.

Per language, on FLORES lines aligned with English: tokenizer fertility and parity with English (from
`vocab analyze`), bits per character (from `eval ppl`), a quick chrF++ both ways and the
off-target rate of en->X (from `eval translate`'s metrics). Languages are ranked by need
(100 minus the mean chrF++ of the two directions: what users will see) and each gets the
suggestions its numbers call for. Written: probe.json (with how it was made), probe.csv,
probe.png (parity against bits per character) and probe.html (sortable table and chart).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Optional

from pydantic import Field

from lingualift.core.config import CommaList, StrictModel
from lingualift.core.io import parse_slice, write_json, write_text
from lingualift.core.pages import render
from lingualift.core.progress import ProgressFactory, bar
from lingualift.core.provenance import provenance
from lingualift.corpora.sources import ENGLISH
from lingualift.lang import languages

# Petrov et al. (2023): at twice English's token count a language pays double for context and
# compute, and models learn it worse; SambaLingo expands vocabularies for such languages.
PARITY_EXPAND = 2.0
# Bits per character half again above English's: the model has seen too little of the language.
BPC_RATIO_CPT = 1.5
CHRF_SFT = 20.0  # below this, en->X output is rarely usable: translation pairs help most
OFF_TARGET_SFT = 25.0  # % of en->X outputs in the wrong language


def suggestions(row: dict, english_bpc: float) -> list[str]:
    out = []
    if row["parity"] >= PARITY_EXPAND:
        out.append(f"expand the vocabulary (parity {row['parity']:.1f}x English): lingualift vocab expand")
    if row["bits_per_char"] >= BPC_RATIO_CPT * english_bpc:
        out.append(f"continual pretraining on monolingual text (bits/char {row['bits_per_char']:.2f} vs English "
                   f"{english_bpc:.2f}): lingualift data build + train cpt")
    if row["chrf_en_x"] < CHRF_SFT or row["off_target_en_x"] > OFF_TARGET_SFT:
        out.append(f"translation SFT on parallel data (chrF++ en->X {row['chrf_en_x']:.1f}, off-target "
                   f"{row['off_target_en_x']:.0f}%): lingualift data sft + train sft")
    return out or ["no urgent gap"]


def _translations(generator, template, flores: str, codes: list[str], chosen: slice, sentences: int,
                  max_new_tokens: int, batch_size: int, progress) -> dict[str, dict]:
    from lingualift.corpora.sources import load_side
    from lingualift.inference.generate import GenerationParams
    from lingualift.metrics import score_all

    english = list(load_side(flores, ENGLISH, "dev", "src").lines[chosen])[:sentences]
    jobs = []  # (code, direction, source lines, references)
    for code in codes:
        other = list(load_side(flores, code, "dev", "tgt").lines[chosen])[:sentences]
        jobs += [(code, "en_x", ENGLISH, code, english, other), (code, "x_en", code, ENGLISH, other, english)]
    prompts = [template.render(text, src, tgt, []) for _, _, src, tgt, texts, _ in jobs for text in texts]
    params = GenerationParams(max_new_tokens=max_new_tokens, batch_size=batch_size, stop=template.stop)
    outputs = iter(generator.generate(prompts, params, progress))
    out: dict[str, dict] = {code: {} for code in codes}
    for code, direction, _, tgt, texts, refs in jobs:
        hyps = [template.extract(next(outputs), tgt) for _ in texts]
        scores = score_all(hyps, refs, tgt, names=("chrf++", "off_target"))
        out[code][f"chrf_{direction}"] = round(scores["chrf++"].score, 2)
        out[code][f"off_target_{direction}"] = round(scores["off_target"].score, 1)
        out[code].setdefault("signatures", {})[direction] = scores["chrf++"].signature
    return out


class ProbeSettings(StrictModel):
    langs: CommaList = Field(..., description="languages (codes or names), or llamax / all")
    lines: str = Field("0:50", description="FLORES lines for fertility (cheap: no model call)")
    ppl_lines: int = Field(20, ge=1, description="the first N of those scored for bits per character")
    sentences: int = Field(6, ge=1, description="the first N of those translated each way for chrF++ and off-target")
    template: Optional[str] = Field(None, description="chat (default when the model has one), llamax-alpaca, ...")
    max_new_tokens: int = Field(64, ge=1, description="longest translation, in tokens")
    batch_size: int = Field(16, ge=1, description="prompts / sequences per batch")


def probe(settings: ProbeSettings, *, model: str, data: str, progress: ProgressFactory | None = None) -> dict:
    from lingualift.eval.ppl_langs import measure
    from lingualift.inference.generate import load_generator
    from lingualift.inference.prompts import get_template
    from lingualift.vocab.fertility import analyze

    s = settings
    flores, lines, ppl_lines, sentences, template = data, s.lines, s.ppl_lines, s.sentences, s.template
    max_new_tokens, batch_size, progress_factory = s.max_new_tokens, s.batch_size, progress
    codes = [c for c in languages.resolve_many(s.langs) if c != ENGLISH]
    chosen = parse_slice(lines)
    fertility = analyze(model, flores, codes, limit=chosen.stop)["languages"]
    generator = load_generator(model, engine="hf")
    name = template or ("chat" if getattr(generator.tokenizer, "chat_template", None) else "llamax-alpaca")
    chosen_template = get_template(name, generator.tokenizer)
    first = chosen.start or 0
    ppl = measure(generator.model, generator.tokenizer, flores, [ENGLISH, *codes], lines=f"{first}:{first + ppl_lines}",
                  batch_size=batch_size, progress_factory=progress_factory)
    total = 2 * sentences * len(codes)
    with bar(progress_factory, "translate", total) as advance:
        quality = _translations(generator, chosen_template, flores, codes, chosen, sentences, max_new_tokens,
                                batch_size, advance)
    english_bpc = ppl[ENGLISH]["bits_per_char"]
    rows = {}
    for code in codes:
        row = {"name": languages.get(code).name, "script": languages.get(code).script, "tier": languages.get(code).tier,
               "tokens_per_word": fertility[code]["tokens_per_word"], "parity": fertility[code]["parity"],
               "byte_fallback_rate": fertility[code]["byte_fallback_rate"],
               "bits_per_char": ppl[code]["bits_per_char"], "bits_per_byte": ppl[code]["bits_per_byte"],
               **{k: v for k, v in quality[code].items() if k != "signatures"}}
        row["need"] = round(100 - (row["chrf_en_x"] + row["chrf_x_en"]) / 2, 2)
        row["suggestions"] = suggestions(row, english_bpc)
        rows[code] = row
    ranked = dict(sorted(rows.items(), key=lambda kv: -kv[1]["need"]))
    signature = next(iter(quality.values()))["signatures"]["en_x"] if quality else None
    return {"meta": {"model": model, "data": flores, "lines": lines, "ppl_lines": ppl_lines, "sentences": sentences,
                     "template": name,
                     "decoding": {"greedy": True, "max_new_tokens": max_new_tokens}, "chrf_signature": signature,
                     "english": {"bits_per_char": english_bpc, "tokens_per_word": fertility[ENGLISH]["tokens_per_word"]},
                     "thresholds": {"parity_expand": PARITY_EXPAND, "bpc_ratio_cpt": BPC_RATIO_CPT,
                                    "chrf_sft": CHRF_SFT, "off_target_sft": OFF_TARGET_SFT},
                     **provenance()},
            "languages": ranked}


COLUMNS = ("need", "parity", "tokens_per_word", "byte_fallback_rate", "bits_per_char", "chrf_en_x", "chrf_x_en",
           "off_target_en_x")


def _chart(result: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["languages"]
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    points = ax.scatter([r["parity"] for r in rows.values()], [r["bits_per_char"] for r in rows.values()],
                        c=[r["chrf_en_x"] for r in rows.values()], cmap="RdYlGn", vmin=0, vmax=60, s=45)
    for code, r in rows.items():
        ax.annotate(code.split("_")[0], (r["parity"], r["bits_per_char"]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    english = result["meta"]["english"]["bits_per_char"]
    ax.axvline(PARITY_EXPAND, color="#999", ls="--", lw=0.8)
    ax.axhline(BPC_RATIO_CPT * english, color="#999", ls=":", lw=0.8)
    ax.set_xlabel("token parity with English (right of dashes: expand the vocabulary)")
    ax.set_ylabel("bits per character (above dots: more pretraining data)")
    ax.set_title(f"{result['meta']['model']}: where it serves languages badly")
    fig.colorbar(points, label="chrF++ en->X")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def write(out: Path, result: dict) -> None:
    png = _chart(result)
    (out / "probe.png").parent.mkdir(parents=True, exist_ok=True)
    (out / "probe.png").write_bytes(png)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["language", "name", *COLUMNS, "suggestions"])
    for code, r in result["languages"].items():
        writer.writerow([code, r["name"], *(r[c] for c in COLUMNS), "; ".join(r["suggestions"])])
    write_text(out / "probe.csv", buffer.getvalue())
    # probe.html.j2 also holds the small inline script that sorts a column when its header is clicked.
    rows = [{"label": f"{r['name']} ({code})", "cells": [r[c] for c in COLUMNS], "suggestions": r["suggestions"]}
            for code, r in result["languages"].items()]
    page = render("probe.html.j2", meta=result["meta"], png=png, columns=("language", *COLUMNS, "suggestions"),
                  rows=rows)
    write_text(out / "probe.html", page)
    write_json(out / "probe.json", result)
