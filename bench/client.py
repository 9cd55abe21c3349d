"""A browser-protocol client for benchmarks that need many sessions: it signs in with the one-time link, takes a
WebSocket ticket (cookie + CSRF, like the web client) and speaks /ws/client."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import websockets

from imcodes_core.protocol.binary import BinaryKind, decode_binary


class BrowserClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.AsyncClient(base_url=base_url, follow_redirects=True)
        self.socket: Any = None
        self.machines: list[dict[str, Any]] = []
        self.binary_frames = 0
        self.binary_bytes = 0
        self.resets = 0
        self._answers: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._machines_seen = asyncio.Event()
        self.output_seen = asyncio.Event()  # set on every binary frame; a latency probe clears it before sending
        self.watch_for = b""  # a throughput probe's end marker
        self.marker_seen = asyncio.Event()
        self._tail = b""

    async def sign_in(self, link: str) -> None:
        response = await self.http.get(link)
        response.raise_for_status()

    async def connect(self) -> None:
        csrf = self.http.cookies.get("imcodes_csrf", "")
        response = await self.http.post("/api/ws-ticket", headers={"X-CSRF-Token": csrf, "Origin": self.base_url})
        response.raise_for_status()
        ticket = response.json()["ticket"]
        url = self.base_url.replace("http", "ws", 1) + f"/ws/client?ticket={ticket}"
        self.socket = await websockets.connect(url, origin=self.base_url, max_size=None)  # type: ignore[arg-type]
        self._reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self._machines_seen.wait(), 30)

    async def _read(self) -> None:
        async for message in self.socket:
            if isinstance(message, bytes):
                frame = decode_binary(message)
                self.binary_frames += 1
                self.binary_bytes += len(frame.payload)
                self.output_seen.set()
                if self.watch_for:
                    self._tail = (self._tail + frame.payload)[-4096:]
                    if self.watch_for in self._tail:
                        self.marker_seen.set()
                if frame.kind is BinaryKind.RESET:
                    self.resets += 1
                continue
            frame = json.loads(message)
            if frame.get("type") == "machines":
                self.machines = frame["machines"]
            if frame.get("type") == "link.status":
                for machine in self.machines:
                    if machine["machine"] == frame["machine"]:
                        machine["online"] = frame["daemon_online"]
            if any(m.get("online") for m in self.machines):
                self._machines_seen.set()  # the local daemon is linked: commands reach it instead of queueing
            ref = frame.get("ref")
            if frame.get("type") in {"ack", "error"} and ref in self._answers:
                self._answers.pop(ref).set_result(frame)

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        frame_id = uuid.uuid4().hex[:16]
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._answers[frame_id] = answer
        await self.socket.send(json.dumps({"v": 1, "id": frame_id, **frame}))
        return await asyncio.wait_for(answer, 30)

    async def start_shell(self, machine: str, cwd: str, label: str) -> str:
        answer = await self.request(
            {"type": "session.start", "machine": machine, "driver": "shell", "cwd": cwd, "label": label}
        )
        if answer.get("type") != "ack" or not answer.get("ok"):
            raise RuntimeError(f"session.start failed: {answer}")
        return str(answer["result"]["session"]["name"])

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        if self._reader is not None:
            self._reader.cancel()
        await self.http.aclose()
