"""Static files: Callbridge's own browser code, and allow-listed npm packages installed at set-up.

Third-party browser packages are never committed: `scripts/setup` installs them from the npm registry
(package-lock.json) into node_modules, and this serves only the packages listed here.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
NODE_MODULES = Path(__file__).resolve().parents[3] / "node_modules"

# package name -> folder inside it that may be served
VENDOR_PACKAGES: dict[str, str] = {"uplot": "dist", "swagger-ui-dist": ".", "sip.js": "lib"}


def install_static_files(app: FastAPI) -> None:
    app.mount("/static/app", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/static/vendor/{package}/{path:path}", include_in_schema=False)
    def vendor_file(package: str, path: str) -> FileResponse:
        folder = VENDOR_PACKAGES.get(package)
        if folder is None:
            raise HTTPException(404, f"{package!r} is not a served browser package")
        root = (NODE_MODULES / package / folder).resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise HTTPException(404, "no such file; run scripts/setup to install the browser packages")
        return FileResponse(target, headers={"Cache-Control": "public, max-age=3600"})
