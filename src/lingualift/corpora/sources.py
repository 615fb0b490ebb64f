"""Where evaluation sentences come from, and which directions to evaluate.

`flores:DIR` (FLORES-200 layout `DIR/<code>.<split>` or `DIR/<split>/<code>.<split>`; a folder
of line-aligned `DIR/<code>.txt` files, one split only, is read the same way),
`tsv:SRC_FILE,TGT_FILE` (two aligned plain files) or `tsv:FILE.tsv` (two tab-separated
columns), and `hf:NAME` (a hub dataset with one config per FLORES code and a `text` or
`sentence` column, e.g. openlanguagedata/flores_plus, whose Mandarin configs cmn_Hans /
cmn_Hant answer for zho_Hans / zho_Hant).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lingualift.core.io import InputError, read_lines
from lingualift.lang.languages import resolve_code

ENGLISH = "eng_Latn"


@dataclass(frozen=True)
class Side:
    lines: tuple[str, ...]
    origin: str  # file path or hub reference, for messages and result files


GROUPS = ("en-x", "x-en", "all")


def _group(spec: str, codes: list[str]) -> list[tuple[str, str]]:
    if not codes:
        raise InputError(f"--directions {spec} needs --langs (e.g. --langs swh_Latn,fra_Latn)")
    if spec == "en-x":
        return [(ENGLISH, c) for c in codes if c != ENGLISH]
    if spec == "x-en":
        return [(c, ENGLISH) for c in codes if c != ENGLISH]
    if spec == "all":
        return [(s, t) for s in codes for t in codes if s != t]
    hub = resolve_code(spec[4:])
    return [d for c in codes if c != hub for d in ((hub, c), (c, hub))]


def parse_directions(spec: str, langs: list[str]) -> list[tuple[str, str]]:
    """Comma-joined parts, each `SRC-TGT` (`eng_Latn-swh_Latn`, `en-sw`) or a group over
    `langs`: `en-x`, `x-en`, `all`, `hub:CODE`. `en-x,x-en` is both ways; repeats are dropped."""
    codes = [resolve_code(lang) for lang in langs]
    directions: list[tuple[str, str]] = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        if item in GROUPS or item.startswith("hub:"):
            found = _group(item, codes)
        else:
            src, sep, tgt = item.partition("-")
            if not (src and sep and tgt):
                raise InputError(f"direction {item!r} is not SRC-TGT (e.g. eng_Latn-swh_Latn or en-sw) "
                                 f"nor one of {', '.join(GROUPS)}, hub:CODE")
            found = [(resolve_code(src), resolve_code(tgt))]
        directions += [d for d in found if d not in directions]
    if not directions:
        raise InputError("no directions given")
    return directions


def heldout(data: str, code: str, lines: str | slice = ":", split: str = "dev") -> list[str]:
    """The non-blank lines of one language in a line range (`800:900`): the held-out text of
    perplexity, vocabulary effect reports and training evaluations, chosen one way everywhere."""
    from lingualift.core.io import parse_slice

    chosen = parse_slice(lines) if isinstance(lines, str) else lines
    side = load_side(data, code, split, "src")
    return [line for line in side.lines[chosen] if line.strip()]


def _flores_file(directory: Path, code: str, split: str) -> Path:
    for candidate in (directory / f"{code}.{split}", directory / split / f"{code}.{split}", directory / f"{code}.txt"):
        if candidate.is_file():
            return candidate
    raise InputError(f"no FLORES file for {code} split {split} (expected {code}.{split} or {code}.txt)", directory)


# FLORES+ (openlanguagedata/flores_plus) names Mandarin by its ISO 639-3 code, cmn_Hans and
# cmn_Hant, where FLORES-200, NLLB and this registry use the macrolanguage's zho_Hans and
# zho_Hant; a config missing under one name is looked up under the other.
HUB_CONFIG_ALIASES = {"zho_Hans": "cmn_Hans", "zho_Hant": "cmn_Hant"}
HUB_CONFIG_ALIASES |= {v: k for k, v in HUB_CONFIG_ALIASES.items()}


def hub_config(configs: list[str], code: str, name: str) -> str:
    """The config of a per-language hub dataset that holds `code`: itself, or its alias."""
    if code in configs or not configs:
        return code
    alias = HUB_CONFIG_ALIASES.get(code)
    if alias in configs:
        return alias
    langs = {c.split("_")[0] for c in (code, alias) if c}
    near = [c for c in configs if c.split("_")[0] in langs][:8]
    raise InputError(f"hub dataset {name} has no config {code}" + (f" (nor {alias})" if alias else "")
                     + (f"; it has {', '.join(near)}" if near else ""))


def _hub_side(name: str, code: str, split: str) -> Side:
    try:
        import datasets
    except ImportError:
        raise InputError("hf: data need the datasets package (`pip install datasets`)") from None
    from lingualift.core import assets

    snapshot = str(assets.hub_snapshot(name, kind="dataset"))
    config = hub_config(datasets.get_dataset_config_names(snapshot), code, name)
    try:
        ds = datasets.load_dataset(snapshot, config, split=split)
    except (ValueError, FileNotFoundError) as err:
        raise InputError(f"hub dataset {name} has no config {config} / split {split} ({err})") from None
    column = next((c for c in ("text", "sentence") if c in ds.column_names), None)
    if column is None:
        raise InputError(f"hub dataset {name} has no text or sentence column: {ds.column_names}")
    return Side(tuple(ds[column]), f"hf:{name}/{config}/{split}")


def load_side(data: str, code: str, split: str, role: str) -> Side:
    """The sentences of one language (role `src` or `tgt` selects the tsv column/file)."""
    kind, _, rest = data.partition(":")
    if kind == "flores":
        path = _flores_file(Path(rest), code, split)
        return Side(tuple(read_lines(path)), str(path))
    if kind == "tsv":
        files = rest.split(",")
        if len(files) == 2:
            path = Path(files[0 if role == "src" else 1])
            return Side(tuple(read_lines(path)), str(path))
        if len(files) == 1:
            column = 0 if role == "src" else 1
            rows = read_lines(files[0])
            for number, row in enumerate(rows, start=1):
                if row.count("\t") != 1:
                    raise InputError("expected two tab-separated columns (source, reference)", files[0], number)
            return Side(tuple(r.split("\t")[column] for r in rows), f"{files[0]}#{column + 1}")
        raise InputError(f"tsv: takes SRC_FILE,TGT_FILE or FILE.tsv, not {rest!r}")
    if kind == "hf":
        return _hub_side(rest, code, split)
    raise InputError(f"unknown data spec {data!r}; use flores:DIR, tsv:SRC,TGT or hf:NAME")


def load_pair(data: str, src: str, tgt: str, split: str, limit: int | None, offset: int = 0) -> tuple[Side, Side]:
    """Source and reference sides of one direction, checked to be aligned; `limit` lines from
    `offset` (to evaluate on lines a model did not train on)."""
    src_side, tgt_side = load_side(data, src, split, "src"), load_side(data, tgt, split, "tgt")
    if len(src_side.lines) != len(tgt_side.lines):
        shorter = min((src_side, tgt_side), key=lambda s: len(s.lines))
        raise InputError(
            f"source has {len(src_side.lines)} lines but reference has {len(tgt_side.lines)} "
            f"(expected aligned files)", shorter.origin, len(shorter.lines) + 1)
    for side in (src_side, tgt_side):
        empty = next((i for i, line in enumerate(side.lines, 1) if not line.strip()), None)
        if empty is not None and not data.startswith("hf:"):
            raise InputError("empty segment (expected one sentence per line)", side.origin, empty)
    if limit or offset:
        end = offset + limit if limit else None
        src_side = Side(src_side.lines[offset:end], src_side.origin)
        tgt_side = Side(tgt_side.lines[offset:end], tgt_side.origin)
    return src_side, tgt_side
