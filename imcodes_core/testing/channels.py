"""A channel sink for testing a plugin's session channel (imcodes_core/channels.py) without a daemon."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from imcodes_core.states import AgentEvent


class RecordingChannelSink:
    """A :class:`~imcodes_core.channels.ChannelSink` that keeps what a channel reports, in order (the daemon's
    ``LiveChannelSink`` hands the same into a session). ``until(predicate)`` waits for a report that makes it
    true::

        sink = RecordingChannelSink()
        task = asyncio.create_task(channel.follow(sink))
        await sink.until(lambda: sink.of("assistant.final"))
    """

    def __init__(self) -> None:
        self.events: list[AgentEvent] = []
        self.chats: list[tuple[str, dict[str, Any]]] = []
        self.conversations: list[str] = []
        self.changed = asyncio.Event()

    def event(self, event: AgentEvent) -> None:
        self.events.append(event)
        self.changed.set()

    def chat(self, kind: str, data: Mapping[str, Any]) -> None:
        self.chats.append((kind, dict(data)))
        self.changed.set()

    def conversation(self, conversation: str) -> None:
        self.conversations.append(conversation)
        self.changed.set()

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.chats]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [data for seen, data in self.chats if seen == kind]

    async def until(self, predicate: Callable[[], object], within: float = 5.0) -> None:
        """Wait, at most ``within`` seconds (TimeoutError), until ``predicate()`` is true after some report."""
        async with asyncio.timeout(within):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()
