"""A small closed-loop HTTP/1.1 load generator for signed Twilio webhooks.

Reads a JSON spec on stdin; ``concurrency`` keep-alive connections each send their next
request as soon as the last is answered. Requests are signed and encoded before the
clock starts, so the generator's own cost per request is a socket write and a read.
Prints {"rps", "p50_ms", "p99_ms", "errors"} as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator


def build(spec: dict) -> list[bytes]:  # type: ignore[type-arg]
    validator = RequestValidator(spec["token"])
    url = spec["public_url"] + spec["path"]
    out = []
    for i, phone in enumerate(spec["phones"]):
        form = {"MessageSid": f"SM{spec['tag']}{i:028d}", "AccountSid": "AC" + "0" * 32,
                "From": phone, "To": spec["to"], "Body": spec["replies"][i % len(spec["replies"])],
                "NumMedia": "0"}  # fmt: skip
        body = urlencode(form).encode()
        signature = validator.compute_signature(url, form)
        head = (f"POST {spec['path']} HTTP/1.1\r\nHost: care.example\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"X-Twilio-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n")
        out.append(head.encode() + body)
    return out


async def connection(port: int, queue: list[bytes], times: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while queue:
        request = queue.pop()
        start = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        times.append(time.perf_counter() - start)
        if not head.startswith(b"HTTP/1.1 200"):
            errors.append(int(head[9:12]))
    writer.close()


async def run(spec: dict) -> dict[str, float]:  # type: ignore[type-arg]
    queue = build(spec)
    queue.reverse()
    times: list[float] = []
    errors: list[int] = []
    start = time.perf_counter()
    await asyncio.gather(*(connection(spec["port"], queue, times, errors)
                           for _ in range(spec["concurrency"])))  # fmt: skip
    elapsed = time.perf_counter() - start
    times.sort()
    return {"rps": len(times) / elapsed, "p50_ms": times[len(times) // 2] * 1000,
            "p99_ms": times[int(len(times) * 0.99)] * 1000, "errors": float(len(errors)),
            "error_codes": sorted(set(errors))[:5]}  # type: ignore[dict-item]


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(json.load(sys.stdin)))))
