"""Serving the CRM on its own port, from the CLI or from Python (the demo, tests, the benchmark).

    server = CrmServer.start(CrmSettings(database_url=...), host="127.0.0.1", port=0)
    print(server.base_url)      # e.g. http://127.0.0.1:53121 (the OIDC issuer)
    server.stop()

The application is a plain WSGI app (`callbridge_crm.app.create_app`), so any WSGI server works
in production; this one is Werkzeug's threaded server, with HTTP/1.1 keep-alive for requests without a
body (see _KeepAliveHandler).
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Any

from flask import Flask
from werkzeug.debug.tbtools import DebugTraceback
from werkzeug.exceptions import InternalServerError
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app
from .config import CrmSettings


class _KeepAliveHandler(WSGIRequestHandler):
    """Werkzeug's handler, plus HTTP/1.1 keep-alive for requests without a body.

    Werkzeug's own handler answers every request with `Connection: close`, so each API call
    (a phone search on every screen pop) would pay a new TCP connection and a new server thread.
    A request without a body leaves nothing unread on the socket, so its connection can safely
    carry the next request; requests with a body (uploads, activity writes) keep Werkzeug's
    behaviour: the unread rest of the body is drained and the connection is closed.
    """

    protocol_version = "HTTP/1.1"
    # An idle kept-alive connection is closed after this many seconds (it holds a thread).
    timeout = 75

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; without this, Nagle's algorithm meets the
        # client's delayed ACK and a kept-alive connection stalls ~40 ms per response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _may_keep_alive(self) -> bool:
        if self.close_connection or self.request_version != "HTTP/1.1":
            return False
        has_body = self.headers.get("Content-Length", "0").strip() not in ("", "0")
        return not has_body and "Transfer-Encoding" not in self.headers and "Expect" not in self.headers

    def run_wsgi(self) -> None:
        if not self._may_keep_alive():
            super().run_wsgi()
            return
        self._run_wsgi_keeping_alive()

    def _run_wsgi_keeping_alive(self) -> None:
        """Werkzeug's run_wsgi without `Connection: close` and without draining the socket."""
        self.environ = environ = self.make_environ()
        status_set: str | None = None
        headers_set: list[tuple[str, str]] | None = None
        headers_sent = False
        chunked = False

        def write(data: bytes) -> None:
            nonlocal headers_sent, chunked
            assert status_set is not None, "write() before start_response"
            assert headers_set is not None, "write() before start_response"
            if not headers_sent:
                headers_sent = True
                code_text, _, message = status_set.partition(" ")
                code = int(code_text)
                self.send_response(code, message)
                header_keys = set()
                for key, value in headers_set:
                    self.send_header(key, value)
                    header_keys.add(key.lower())
                if not (
                    "content-length" in header_keys
                    or environ["REQUEST_METHOD"] == "HEAD"
                    or 100 <= code < 200
                    or code in (204, 304)
                ):
                    chunked = True
                    self.send_header("Transfer-Encoding", "chunked")
                if self.close_connection:  # the error page after a failed request
                    self.send_header("Connection", "close")
                if data and not chunked:
                    # Headers and body in one write: one send, one segment on the wire.
                    self._headers_buffer.extend((b"\r\n", data))
                    self.flush_headers()
                    self.wfile.flush()
                    return
                self.end_headers()
            if data:
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                else:
                    self.wfile.write(data)
            self.wfile.flush()

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal status_set, headers_set
            if exc_info:
                try:
                    if headers_sent:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            elif headers_set:
                raise AssertionError("Headers already set")
            status_set = status
            headers_set = headers
            return write

        def execute(app: Any) -> None:
            application_iter = app(environ, start_response)
            try:
                for data in application_iter:
                    write(data)
                if not headers_sent:
                    write(b"")
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
            finally:
                if hasattr(application_iter, "close"):
                    application_iter.close()

        try:
            execute(self.server.app)
        except (ConnectionError, TimeoutError) as error:
            self.close_connection = True
            self.connection_dropped(error, environ)
        except Exception as error:
            self.close_connection = True
            if self.server.passthrough_errors:
                raise
            if not headers_sent:
                status_set = headers_set = None
                try:
                    execute(InternalServerError())
                except Exception:  # noqa: S110 - the connection is closed next anyway
                    pass
            self.server.log("error", f"Error on request:\n{DebugTraceback(error).render_traceback_text()}")

    def log_error(self, format: str, *args: Any) -> None:
        # A kept-alive connection left idle ends with "Request timed out": not worth a log line.
        if format.startswith("Request timed out"):
            return
        super().log_error(format, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.quiet:  # type: ignore[attr-defined]
            return
        super().log_request(code, size)


class CrmServer:
    """A running CRM: its HTTP server in a background thread, stopped by `stop()` (or `with`)."""

    def __init__(self, http_server: BaseWSGIServer, app: Flask, settings: CrmSettings) -> None:
        self.http_server = http_server
        self.app = app
        self.settings = settings
        self._thread = threading.Thread(target=http_server.serve_forever, name="callbridge-crm", daemon=True)

    @classmethod
    def start(
        cls,
        settings: CrmSettings | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        public_host: str | None = None,
        quiet: bool = True,
    ) -> CrmServer:
        """Bind (port 0 = any free port), build the app with base_url set to where it listens, serve."""
        settings = settings or CrmSettings()
        holder: dict[str, Flask] = {}

        def application(environ: dict[str, Any], start_response: Any) -> Any:
            return holder["app"](environ, start_response)

        http_server = make_server(host, port, application, threaded=True, request_handler=_KeepAliveHandler)
        http_server.quiet = quiet  # type: ignore[attr-defined]
        if port == 0 or public_host is not None:
            bound_port = http_server.server_port
            settings = settings.model_copy(update={"base_url": f"http://{public_host or host}:{bound_port}"})
        holder["app"] = create_app(settings)
        server = cls(http_server, holder["app"], settings)
        server._thread.start()
        return server

    @property
    def base_url(self) -> str:
        return self.settings.issuer

    def serve_forever(self) -> None:
        """Block until interrupted (the CLI's `serve`)."""
        try:
            self._thread.join()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        self.http_server.shutdown()
        self.http_server.server_close()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.app.extensions["callbridge_crm"].engine.dispose()

    def __enter__(self) -> CrmServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
