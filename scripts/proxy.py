#!/usr/bin/env python3
"""A small reverse proxy for `make run-scaled`: one port in front of several ASGI processes.

    scripts/proxy.py --listen 127.0.0.1:8000 --backend 127.0.0.1:8001 --backend 127.0.0.1:8002

Why this and not nginx: nginx is the production answer (docs/deployment.md),
but it is not installed here and `make run-scaled` should need nothing beyond
the virtualenv, PostgreSQL and Redis. This proxy uses the standard library
only (asyncio streams) and does what the helpdesk needs from a proxy:

* each client connection goes to the next backend in turn (round robin),
  skipping a backend that refuses the connection;
* it reads the request head (at most 64 KiB, within 30 s), appends the
  client's address to X-Forwarded-For and sets X-Forwarded-Proto, so the
  application (BEHIND_PROXY=true) sees who is calling; a client's own
  X-Forwarded-Proto is dropped;
* a plain request is sent with `Connection: close`, so every request on the
  client's side carries its own forwarded address; a WebSocket upgrade keeps
  its Upgrade/Connection headers and the two sides are then joined byte for
  byte until either closes.

It is not a production proxy: no TLS, no buffering of slow clients, no
HTTP/2. Standard library only, so it runs with any Python 3.11.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import signal

HEAD_LIMIT = 64 * 1024
HEAD_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0
HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"x-forwarded-proto"}

log = logging.getLogger("proxy")


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def rewrite_head(head: bytes, client_host: str) -> tuple[bytes, bool]:
    """Return the request head to send on, and whether it asks for a WebSocket."""
    lines = head.split(b"\r\n")
    request_line, headers = lines[0], [line for line in lines[1:] if line]
    upgrade = False
    kept, forwarded = [], []
    for line in headers:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"upgrade" and value.strip().lower() == b"websocket":
            upgrade = True
        if key == b"x-forwarded-for":
            forwarded.append(value.strip())
            continue
        kept.append((key, line))
    out = [request_line]
    for key, line in kept:
        if key in HOP_BY_HOP and not (upgrade and key == b"connection"):
            continue
        out.append(line)
    if not upgrade:
        out.append(b"Connection: close")
    chain = b", ".join([*forwarded, client_host.encode()])
    out.append(b"X-Forwarded-For: " + chain)
    out.append(b"X-Forwarded-Proto: http")
    return b"\r\n".join(out) + b"\r\n\r\n", upgrade


class Proxy:
    def __init__(self, backends: list[tuple[str, int]]):
        self.backends = backends
        self._turn = itertools.cycle(range(len(backends)))

    async def _open_backend(self):
        for _ in range(len(self.backends)):
            host, port = self.backends[next(self._turn)]
            try:
                return await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
            except (OSError, TimeoutError):
                log.warning("backend %s:%s refused the connection", host, port)
        return None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        peer = writer.get_extra_info("peername") or ("0.0.0.0", 0)
        backend_writer = None
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
            except asyncio.LimitOverrunError:
                await _answer(writer, b"431 Request Header Fields Too Large")
                return
            except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                return
            new_head, _upgrade = rewrite_head(head, peer[0])
            opened = await self._open_backend()
            if opened is None:
                await _answer(writer, b"502 Bad Gateway")
                return
            backend_reader, backend_writer = opened
            backend_writer.write(new_head)
            await backend_writer.drain()
            upstream = asyncio.create_task(_pipe(reader, backend_writer))
            try:
                # The exchange ends when the backend has answered and closed
                # (or the WebSocket closed); a client that keeps its end open
                # does not keep the backend connection.
                await _pipe(backend_reader, writer)
            finally:
                upstream.cancel()
        finally:
            for stream in (writer, backend_writer):
                if stream is not None:
                    stream.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def _answer(writer: asyncio.StreamWriter, status: bytes) -> None:
    writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    try:
        await writer.drain()
    except ConnectionError:
        pass


async def serve(listen: tuple[str, int], backends: list[tuple[str, int]]) -> None:
    proxy = Proxy(backends)
    server = await asyncio.start_server(proxy.handle, *listen, limit=HEAD_LIMIT)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log.warning("proxy on %s:%s -> %s", *listen, ", ".join(f"{h}:{p}" for h, p in backends))
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:8000")
    parser.add_argument("--backend", action="append", required=True)
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s proxy %(message)s")
    asyncio.run(serve(_address(options.listen), [_address(b) for b in options.backend]))


if __name__ == "__main__":
    main()
