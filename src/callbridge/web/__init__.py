"""The web edge: REST API (OpenAPI at /docs), WebSocket events, pages. Thin: validate, call services, render."""
