"""A stand-in for the Callbridge agent console (another origin) that speaks the CTI host protocol.

It serves one page that records every message from the CRM origin in `window.received` and offers
`window.cti(method, params, version)`, which posts a request to the host (the parent frame in console
mode, the opener window in non-console mode) and resolves with the host's reply.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Stand-in console</title></head>
<body><h1>Agent console (stand-in)</h1><p id="status">waiting</p>
<script>
const crmOrigin = "__CRM_ORIGIN__";
window.received = [];
const pending = new Map();
const host = () => (window.parent !== window ? window.parent : window.opener);
window.addEventListener("message", (event) => {
  if (event.origin !== crmOrigin) return;
  window.received.push(event.data);
  const data = event.data;
  if (data && data.replyTo && pending.has(data.replyTo)) {
    pending.get(data.replyTo)(data);
    pending.delete(data.replyTo);
  }
});
let counter = 0;
window.cti = (method, params, version) => new Promise((resolve) => {
  const id = "req-" + (++counter) + "-" + Math.random().toString(36).slice(2);
  pending.set(id, resolve);
  const request = { protocol: "callbridge-cti", version: version || 1, id, method, params: params || {} };
  host().postMessage(request, crmOrigin);
});
window.events = (name) => window.received.filter((m) => m.event === name);
document.getElementById("status").textContent = "ready";
</script></body></html>
"""


class ConsoleStandIn:
    def __init__(self) -> None:
        self.crm_origin = ""
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                body = PAGE.replace("__CRM_ORIGIN__", stand_in.crm_origin).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/console?tenant=demo"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
