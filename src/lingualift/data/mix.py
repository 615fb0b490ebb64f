"""How many records of each group (a language, or a SRC-TGT direction) go into the mix.

Temperature sampling p_g ∝ n_g^(1/T) within monolingual and within parallel groups, an
optional monolingual share of the whole, LLaMAX's minimum per direction (upsampled by
repetition), caps, or fixed shares (SambaLingo's 75% target / 25% English).
"""

from __future__ import annotations

import xxhash

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


def _feistel(x: int, half: int, key: bytes) -> int:
    """A bijection of [0, 4**half): four Feistel rounds keyed by xxhash."""
    mask = (1 << half) - 1
    left, right = x >> half, x & mask
    for round_ in range(4):  # four rounds: what makes a Feistel network a pseudo-random permutation
        left, right = right, left ^ xxhash.xxh64_intdigest(key + right.to_bytes(8, "little"), seed=round_) & mask
    return (left << half) | right


def position(index: int, count: int, seed: str) -> int:
    """Where record `index` of `count` falls in a seeded random permutation of range(count)
    (a Feistel network on the next power of four, cycle-walked back into range), in constant
    time and memory. Taking the records whose position is below k draws exactly k of them,
    each with chance k / count, and each record decides alone: the draw does not depend on
    how the records are split over tasks."""
    half = max(1, ((count - 1).bit_length() + 1) // 2)
    key, x = seed.encode(), index
    while True:  # under 4 steps on average: the domain is less than 4x count
        x = _feistel(x, half, key)
        if x < count:
            return x


def chosen(index: int, count: int, k: int, seed: str) -> bool:
    """Whether record `index` of a group of `count` is among the `k` sampled (`position`)."""
    return k >= count or (k > 0 and position(index, count, seed) < k)
