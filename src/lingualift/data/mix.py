"""How many records of each group (a language, or a SRC-TGT direction) go into the mix.

Temperature sampling p_g ∝ n_g^(1/T) within monolingual and within parallel groups, an
optional monolingual share of the whole, LLaMAX's minimum per direction (upsampled by
repetition), caps, or fixed shares (SambaLingo's 75% target / 25% English).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from lingualift.core.io import InputError
from lingualift.data.config import MixConfig


def is_parallel(group: str) -> bool:
    return "-" in group


def _temperature(counts: dict[str, int], temperature: float) -> dict[str, float]:
    weights = {g: n ** (1.0 / temperature) for g, n in counts.items() if n}
    total, norm = sum(counts.values()), sum(weights.values())
    return {g: total * w / norm for g, w in weights.items()}


def targets(counts: dict[str, int], cfg: MixConfig) -> dict[str, int]:
    """Records to draw per group; more than a group has means repetition."""
    if cfg.shares:
        missing = sorted(set(counts) - set(cfg.shares))
        unknown = sorted(set(cfg.shares) - set(counts))
        if missing or unknown:
            raise InputError(f"mix.shares must name exactly the groups of the data; missing {missing}, "
                             f"not in the data {unknown}")
        if abs(sum(cfg.shares.values()) - 1.0) > 1e-6:
            raise InputError(f"mix.shares must sum to 1, not {sum(cfg.shares.values()):g}")
        # Default total: the largest mix that needs no group repeated.
        total = cfg.total or int(min(counts[g] / s for g, s in cfg.shares.items() if s > 0))
        wanted = {g: s * total for g, s in cfg.shares.items()}
    else:
        mono = _temperature({g: n for g, n in counts.items() if not is_parallel(g)}, cfg.temperature)
        para = _temperature({g: n for g, n in counts.items() if is_parallel(g)}, cfg.temperature)
        if cfg.english_share is not None:
            mono = _english_share(mono, cfg.english_share)
        m, p = sum(mono.values()), sum(para.values())
        share = cfg.mono_share
        if share is not None and m + p:
            # Shrink whichever side is over its share; never grow one by repetition.
            if m / (m + p) > share:
                scale_m, scale_p = (share * p / (1 - share) / m if share < 1 else 1.0), 1.0
            else:
                scale_m, scale_p = 1.0, ((1 - share) * m / share / p if share > 0 else 0.0)
            mono = {g: v * scale_m for g, v in mono.items()}
            para = {g: v * scale_p for g, v in para.items()}
        wanted = {**mono, **para}
    result = {}
    for group, value in wanted.items():
        value = max(value, cfg.min_per_group) if counts.get(group) else 0
        value = min(value, cfg.caps.get(group, value))
        result[group] = int(value + 0.5)
    return result


ENGLISH = "eng_Latn"


def _english_share(mono: dict[str, float], share: float) -> dict[str, float]:
    """English at `share` of the monolingual records: whichever side is over its share
    shrinks (never grown by repetition), so a small English corpus shrinks the target side."""
    english = mono.get(ENGLISH, 0.0)
    rest = sum(v for g, v in mono.items() if g != ENGLISH)
    if not english or not rest:
        raise InputError(f"mix.english_share needs English and another language in the monolingual data "
                         f"(found {', '.join(sorted(mono)) or 'none'})")
    if english / (english + rest) > share:
        return {**mono, ENGLISH: share * rest / (1 - share)}
    scale = (1 - share) * english / share / rest
    return {g: (v if g == ENGLISH else v * scale) for g, v in mono.items()}


def selected(count: int, k: int, rng: random.Random) -> Iterator[bool]:
    """Exactly k of `count` records in one pass and constant memory (selection sampling,
    Knuth's Algorithm S): each record is taken with chance (still wanted) / (still left)."""
    for seen in range(count):
        take = (count - seen) * rng.random() < k
        k -= take
        yield take


def draw(read_group, count: int, target: int, seed: str) -> Iterator[dict]:
    """`target` records from a group of `count`: every record target // count times, plus
    a seeded sample of the remainder; `read_group()` streams the group again each pass."""
    if not count or not target:
        return
    repeats, rest = divmod(target, count)
    for _ in range(repeats):
        yield from read_group()
    if rest:
        yield from (r for r, take in zip(read_group(), selected(count, rest, random.Random(seed))) if take)


def quotas(rest: int, parts: dict[int, int]) -> dict[int, int]:
    """Split `rest` sampled records of a group over the parts (tasks) holding it, in
    proportion to what each holds (largest remainder, ties to the lower part), so each task
    draws its own share without seeing the others' records."""
    total = sum(parts.values())
    if not total or not rest:
        return dict.fromkeys(parts, 0)
    exact = {p: rest * n / total for p, n in parts.items()}
    share = {p: int(v) for p, v in exact.items()}
    for p in sorted(parts, key=lambda p: (share[p] - exact[p], p))[:rest - sum(share.values())]:
        share[p] += 1
    return share
