"""Server-rendered pages (Jinja2): agent console, supervisor wallboard and reports, admin configuration.

Every page extends `templates/base.html` and uses `static/css/callbridge.css`. Browser code is plain ES
modules under `static/` (JSDoc-typed, checked by `npm run check`); third-party browser packages come from
the npm registry at set-up time and are served from `/static/vendor/<package>/…` (see static_files.py).
"""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def compile_templates() -> None:
    """Jinja compiles a template at its first render (about 200 ms of CPU for all of them); doing it at
    start-up, in a worker thread, keeps that off the event loop and out of the first visitor's wait."""
    for name in templates.env.list_templates(extensions=["html"]):
        templates.env.get_template(name)
