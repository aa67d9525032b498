"""Views of the one result model."""

from batch_health.render.json_report import render_json
from batch_health.render.text import render_text

__all__ = ["render_json", "render_text"]
