"""Charts for the lessons (altair), readable in JupyterLab and outside it.

:func:`use_workbook_renderer` makes every altair chart carry two representations: the
Vega-Lite spec (for front ends with a Vega-Lite renderer), and a static SVG rendered
locally by vl-convert, which JupyterLab, GitHub and nbviewer all show. Nothing is fetched
from a CDN at run time (altair's default HTML renderer would load Vega from one).
"""
from __future__ import annotations

import altair as alt

_RENDERER = "workbook"


def _render(spec: dict, **kwargs: object) -> dict:
    major = alt.SCHEMA_VERSION.lstrip("v").split(".")[0]
    title = spec.get("title")
    text = title if isinstance(title, str) else (title or {}).get("text", "chart") if isinstance(title, dict) else "chart"
    bundle: dict[str, object] = {f"application/vnd.vegalite.v{major}+json": spec, "text/plain": f"<chart: {text}>"}
    try:
        import vl_convert as vlc

        bundle["image/svg+xml"] = vlc.vegalite_to_svg(spec)
    except Exception:  # no static fallback is better than no chart
        pass
    return bundle


def use_workbook_renderer() -> None:
    """Register and enable the renderer that adds a static SVG to every chart (idempotent)."""
    if _RENDERER not in alt.renderers.names():
        alt.renderers.register(_RENDERER, _render)
    alt.renderers.enable(_RENDERER)
    alt.data_transformers.disable_max_rows()
