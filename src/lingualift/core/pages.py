"""Self-contained HTML reports from Jinja templates (`core/templates/`): one page skeleton,
one stylesheet, no script or CDN a report needs to open (air-gapped clusters included).

Each report module builds a plain dict of what it shows and calls `render(name, **context)`;
templates escape every value (autoescape), so text from models and data cannot inject markup.
"""

from __future__ import annotations

import base64
import functools

import jinja2


def fmt(value) -> str:
    """A number as reports print it: two decimals, `n/a` for a missing one."""
    return "n/a" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def colour(value: float | None, lo: float = 0.0, hi: float = 100.0) -> str:
    """A heat colour from red (lo) to green (hi); grey for a missing value."""
    if value is None:
        return "#eee"
    t = max(0.0, min(1.0, (value - lo) / (hi - lo or 1)))
    return f"hsl({int(120 * t)}, 65%, {int(85 - 25 * t)}%)"


def png_data(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("lingualift.core", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(fmt=fmt, colour=colour, png=png_data)
    return env


def render(name: str, **context) -> str:
    return environment().get_template(name).render(**context)
