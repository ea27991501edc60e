"""The SIP stack: the Sippy B2BUA library's transactions and dialogs, run by its own dispatcher thread.

Sippy is not asyncio: its `EventDispatcher2` is a process-wide loop with timers and UDP reader threads. It
runs here in one daemon thread. The two worlds meet only through two queues of callbacks:

* asyncio → sippy: `SipStack.call(fn, *args)` hands `fn` to the dispatcher (`ED2.callFromThread`), which runs
  it in the SIP thread; nothing on the event loop ever waits for SIP.
* sippy → asyncio: SIP events are posted with `loop.call_soon_threadsafe`; the controller's handlers run on
  the event loop, never in the SIP thread.

Every object of the library (UA, transactions) is created and touched only in the SIP thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import warnings
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class SipLog:
    """Sippy's logger interface (`write(*parts, **detail)`) onto the standard `logging` at debug level."""

    def write(self, *parts: Any, **detail: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("sip: %s", "".join(str(part) for part in parts))

    def shutdown(self) -> None:
        pass


class SipStack:
    """One per process (the library's dispatcher is a singleton). `on_request(req, sip_t)` runs in the SIP
    thread for every request outside a dialog, and answers as sippy's request callbacks do."""

    def __init__(
        self,
        address: str,
        port: int,
        on_request: Callable[[Any, Any], Any],
    ) -> None:
        self.address = address
        self.port = port
        self.on_request = on_request
        self.config: dict[str, Any] = {}
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        # Imported here, on the main thread: importing the dispatcher installs its wake-up signal handler.
        from sippy.Core.EventDispatcher import ED2  # noqa: F401
        from sippy.SipConf import SipConf

        SipConf.my_address = self.address
        SipConf.my_port = self.port
        SipConf.my_uaname = "Callbridge"
        SipConf.allow_formats = (0, 8, 101)
        self._thread = threading.Thread(target=self._run, name="sip-stack", daemon=True)
        self._thread.start()
        await asyncio.to_thread(self._ready.wait, 10.0)
        if self._error is not None:
            raise self._error
        if not self._ready.is_set():
            raise RuntimeError("the SIP stack did not start within 10 s")

    def _run(self) -> None:
        from threading import get_ident

        from sippy.Core.EventDispatcher import ED2
        from sippy.SipTransactionManager import SipTransactionManager

        ED2.my_ident = get_ident()  # timers are armed and fired in this thread only
        try:
            self.config.update(_sip_address=self.address, _sip_port=self.port, _sip_logger=SipLog())
            with warnings.catch_warnings():
                # the library probes IPv6 with a socket it leaves to the collector
                warnings.simplefilter("ignore", ResourceWarning)
                self.config["_sip_tm"] = SipTransactionManager(self.config, self.on_request)
        except BaseException as error:
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        try:
            ED2.loop()
        except Exception:
            log.exception("voice: the SIP stack stopped on an error")
        finally:
            self.config["_sip_tm"].shutdown()

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        """Runs `function(*args)` in the SIP thread (soon; never waits)."""
        from sippy.Core.EventDispatcher import ED2

        ED2.callFromThread(function, *args)

    def post(self, function: Callable[..., Any], *args: Any) -> None:
        """From the SIP thread: runs `function(*args)` on the event loop."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(function, *args)

    async def stop(self) -> None:
        if self._thread is None:
            return
        from sippy.Core.EventDispatcher import ED2

        ED2.callFromThread(ED2.breakLoop)
        await asyncio.to_thread(self._thread.join, 5.0)
        self._thread = None
