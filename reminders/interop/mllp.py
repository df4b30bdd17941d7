"""MLLP: HL7 v2 over TCP, each message framed as ``0x0b`` message ``0x1c 0x0d``.

A sender keeps one connection open and sends message after message, waiting for each
ACK; so a connection is served in order, one message at a time, and many connections at
once. Bytes can arrive split anywhere (a frame over several reads, several frames in one
read); bytes outside a frame are skipped. A frame larger than ``max_bytes`` is read to
its end without being kept, and answered ``AR`` when its MSH is readable (the connection
stays usable); otherwise the connection is closed.

The handler (``Receiver.receive``) does blocking database work, so it runs in a worker
thread and the event loop keeps serving other connections. On stop, the server stops
accepting, idle connections are closed, and a message being handled is finished and
acknowledged first: a sender never loses an ACK for work that was committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import hl7

from reminders.interop import hl7_in

log = logging.getLogger("reminders.interop.mllp")

START = b"\x0b"
END = b"\x1c\x0d"
MAX_BYTES = 1_000_000  # a scheduling or charge message is a few kB; 1 MB is plenty
READ_SIZE = 64 * 1024
SHUTDOWN_GRACE = 10.0  # seconds a message in hand has to finish on stop

Handler = Callable[[bytes], bytes]


def frame(message: bytes) -> bytes:
    return START + message + END


class Framer:
    """Splits a byte stream into MLLP frames; feed bytes in, take whole frames out."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._inside = False
        self._oversize_head: bytes | None = None  # first bytes of a frame being dropped

    def feed(self, data: bytes) -> list[tuple[bytes, bool]]:
        """Whole frames so far, each as (content, too_big); too_big content is its head."""
        out: list[tuple[bytes, bool]] = []
        self._buffer.extend(data)
        while True:
            if not self._inside:
                start = self._buffer.find(START)
                if start < 0:
                    self._buffer.clear()  # noise between frames
                    return out
                del self._buffer[: start + 1]
                self._inside = True
            end = self._buffer.find(END)
            if end < 0:
                if len(self._buffer) > self.max_bytes:
                    # Keep the head (its MSH names the sender) and the last byte (half an END).
                    if self._oversize_head is None:
                        self._oversize_head = bytes(self._buffer[:4096])
                    del self._buffer[:-1]
                return out
            content = bytes(self._buffer[:end])
            del self._buffer[: end + len(END)]
            self._inside = False
            if self._oversize_head is not None:
                out.append((self._oversize_head, True))
                self._oversize_head = None
            elif len(content) > self.max_bytes:
                out.append((content[:4096], True))
            else:
                out.append((content, False))


def oversize_ack(head: bytes, max_bytes: int) -> bytes | None:
    """``AR`` for a frame over the limit, addressed from its MSH; None if there is none."""
    text = hl7_in.decode(head).split("\r", 1)[0]
    if not text.startswith("MSH"):
        return None
    try:
        message = hl7.parse(text)
    except Exception:  # not even a readable MSH: the caller closes the connection
        return None
    text = f"the message is larger than {max_bytes} bytes and was not read"
    problem = hl7_in.Problem("MSH", hl7_in.SEGMENT_SEQUENCE, text)
    return hl7_in.build_ack(message, "AR", [problem]).encode("utf-8")


class MllpServer:
    def __init__(self, handler: Handler, *, host: str, port: int,
                 max_bytes: int = MAX_BYTES) -> None:  # fmt: skip
        self.handler = handler
        self.host, self.port = host, port
        self.max_bytes = max_bytes
        self._server: asyncio.Server | None = None
        self._idle: set[asyncio.Task[None]] = set()
        self._connections: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def start(self) -> tuple[str, int]:
        """Bind and listen; the address actually bound (port 0 picks a free one)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def serve_until(self, stop: asyncio.Event) -> None:
        if self._server is None:
            await self.start()
        await stop.wait()
        await self.close()

    async def close(self) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for task in list(self._idle):
            task.cancel()  # waiting for the next message: nothing is lost
        if self._connections:
            # Messages being handled finish and are acknowledged; a peer that stopped
            # reading its ACKs does not hold the shutdown up for long.
            _done, late = await asyncio.wait(self._connections, timeout=SHUTDOWN_GRACE)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        peer = writer.get_extra_info("peername")
        log.info("mllp connection from %s", peer[0] if peer else "?")
        framer = Framer(self.max_bytes)
        try:
            while not self._stopping:
                self._idle.add(task)
                try:
                    data = await reader.read(READ_SIZE)
                finally:
                    self._idle.discard(task)
                if not data:
                    break
                for content, too_big in framer.feed(data):
                    if too_big:
                        ack = oversize_ack(content, self.max_bytes)
                        log.warning("mllp frame over %d bytes from %s", self.max_bytes,
                                    peer[0] if peer else "?")  # fmt: skip
                        if ack is None:
                            return
                    else:
                        ack = await asyncio.to_thread(self.handler, content)
                    writer.write(frame(ack))
                    await writer.drain()
        except asyncio.CancelledError:
            pass
        except (ConnectionError, OSError) as exc:
            log.info("mllp connection lost: %s", type(exc).__name__)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
