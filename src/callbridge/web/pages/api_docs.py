"""`GET /docs`: the interactive API reference (Swagger UI), served entirely from Callbridge's own origin.

Swagger UI comes from the npm package `swagger-ui-dist`, pinned in package-lock.json and installed by
`scripts/setup` (served under /static/vendor/), never from a CDN: a page on Callbridge's origin that ran a
third party's script could act with an admin's session. The page's Content-Security-Policy allows scripts,
styles and requests from Callbridge's origin only (images also as `data:` URLs, which Swagger UI's
stylesheet uses for its icons), and no inline script: the page's own start-up code is a static file too.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

SWAGGER_UI = "/static/vendor/swagger-ui-dist"
DOCS_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Callbridge API</title>
<link rel="icon" type="image/png" href="{SWAGGER_UI}/favicon-32x32.png">
<link rel="stylesheet" href="{SWAGGER_UI}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{SWAGGER_UI}/swagger-ui-bundle.js"></script>
<script src="/static/app/docs/swagger.js" data-openapi-url="/openapi.json"></script>
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse)
def api_docs() -> HTMLResponse:
    return HTMLResponse(PAGE, headers={"Content-Security-Policy": DOCS_POLICY})
