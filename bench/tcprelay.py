"""A delaying TCP relay on 127.0.0.1, for the fleet of lightweight chroot test hosts.

The chroot hosts (tests/testhosts/chroot.py) listen on 127.0.0.1 in this machine's own network
namespace, where the packet delay line (bench/delayline.py) cannot sit between client and
server. This relay holds every chunk RTT/2 in each direction instead. It models distance, not a
link: the relay ACKs locally, so Nagle's algorithm and the TCP window do not pay the delay here
(the single-host figures, over the packet delay line, do).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field

MAX_BUFFERED = 64  # chunks queued per direction: a slow reader pushes back on its writer


@dataclass
class TcpRelay:
    rtt: float
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _thread: threading.Thread | None = None
    _servers: list[asyncio.Server] = field(default_factory=list)

    def __enter__(self) -> TcpRelay:
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            for s in self._servers:
                s.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def forward(self, port: int) -> int:
        """A new port on 127.0.0.1 that reaches 127.0.0.1:`port` RTT later."""

        async def start() -> int:
            server = await asyncio.start_server(lambda r, w: self._pair(r, w, port), "127.0.0.1", 0)
            self._servers.append(server)
            return int(server.sockets[0].getsockname()[1])

        return asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)

    async def _pair(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, port: int
    ) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            client_w.close()
            return
        await asyncio.sleep(self.rtt)  # the TCP handshake's own round trip
        await asyncio.gather(
            self._pipe(client_r, server_w), self._pipe(server_r, client_w), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(MAX_BUFFERED)

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if not data:
                    break
                writer.write(data)
                await writer.drain()
            with contextlib.suppress(OSError):
                writer.write_eof()

        sender = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(65536)
                await queue.put((time.monotonic() + self.rtt / 2, data))
                if not data:
                    break
            await sender
        finally:
            sender.cancel()
            writer.close()
