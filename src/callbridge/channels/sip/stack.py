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
import functools
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


def _close_sockets(manager: Any) -> None:
    """Stops a transaction manager's purge timer and closes its sockets, leaving its tables in place: dialogs
    that are still winding down (their own timers) find them, and simply have nothing left to send on."""
    manager.cp_timer.cancel()
    manager.l4r.shutdown()


class _Dispatcher:
    """The library's event dispatcher, run by one daemon thread for the life of the process: the dispatcher is
    a process-wide singleton whose native timer cannot move to another thread, so a stack that stops only
    closes its sockets, and the next one reuses the same thread."""

    _lock = threading.Lock()
    _thread: threading.Thread | None = None

    @classmethod
    def ensure_running(cls) -> None:
        with cls._lock:
            if cls._thread is not None and cls._thread.is_alive():
                return
            ready = threading.Event()

            def run() -> None:
                # Imported here first: the dispatcher's native timer belongs to the thread that creates it
                # (it wakes that thread when another one hands it work), so it must be this long-lived one.
                from sippy.Core.EventDispatcher import ED2

                ED2.my_ident = threading.get_ident()  # timers are armed and fired in this thread only
                ready.set()
                while True:
                    try:
                        ED2.loop()
                    except Exception:
                        log.exception("voice: the SIP dispatcher stopped on an error; restarting it")

            cls._thread = threading.Thread(target=run, name="sip-dispatcher", daemon=True)
            cls._thread.start()
            ready.wait(10.0)


class SipStack:
    """One listening SIP socket with its transaction manager. `on_request(req, sip_t)` runs in the SIP thread
    for every request outside a dialog, and answers as sippy's request callbacks do."""

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
        self.loop: asyncio.AbstractEventLoop | None = None
        self._manager: Any = None

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        _Dispatcher.ensure_running()  # before any other import of the library
        from sippy.SipConf import SipConf

        SipConf.my_address = self.address
        SipConf.my_port = self.port
        SipConf.my_uaname = "Callbridge"
        SipConf.allow_formats = (0, 8, 101)
        await asyncio.to_thread(self._sync, self._create_manager)

    def _create_manager(self) -> None:
        from sippy.SipTransactionManager import SipTransactionManager

        self.config.update(_sip_address=self.address, _sip_port=self.port, _sip_logger=SipLog())
        with warnings.catch_warnings():
            # the library probes IPv6 with a socket it leaves to the collector
            warnings.simplefilter("ignore", ResourceWarning)
            self._manager = SipTransactionManager(self.config, self.on_request)
        self.config["_sip_tm"] = self._manager

    @staticmethod
    def _sync(function: Callable[[], Any]) -> Any:
        """Runs `function` in the SIP thread and waits for it (call from a worker thread, never the loop)."""
        from sippy.Core.EventDispatcher import ED2

        return ED2.callFromThreadSync(function)

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
        manager, self._manager = self._manager, None
        if manager is not None:
            await asyncio.to_thread(self._sync, functools.partial(_close_sockets, manager))
        self.loop = None
