"""A tiny ACP agent for the JSON-RPC edge cases (run as a script: ``python tiny_agent.py [stubborn]``).

The prompt text picks the behaviour:
- ``hello``: two message chunks, ``end_turn``;
- ``MALFORMED``: writes a non-JSON line, a JSON line that is not JSON-RPC and a response to an unknown id first;
- ``CRASH``: one chunk, a line on stderr, exit 3 in the middle of the turn;
- ``READ <path>`` / ``WRITE <path> <text>``: asks the client through fs/*, reports the outcome as text;
- ``ASK``: a permission request; reports the outcome; ``cancelled`` stop reason when the client cancelled;
- ``UNKNOWN``: a request the client does not support (like Qwen's ``craft/drainMidTurnQueue``), reports the error;
- ``HANG``: never answers the prompt (until session/cancel arrives, then ``cancelled``).
- ``RECALL``: says every earlier prompt of the session (``earlier: a | b``), to prove a loaded session's context.
With ``stubborn`` it ignores SIGTERM and a closed stdin, so only SIGKILL ends it. With ``loadable`` it offers
``session/load``: each session gets its own id and its turns are kept in ``.tiny-agent/<id>.json`` under the working
folder, replayed (user and agent message chunks) on load. With ``load-fails`` it offers it but every load fails
(as Gemini CLI 0.61.0's does: "No previous sessions found for this project").
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

SESSION = "tiny-session-1"
pending_cancel = False
next_id = 100
turns: list[list[str]] = []  # [prompt, answer] of the session's turns, kept for session/load
STORE = Path(".tiny-agent")


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
    sys.stdout.flush()


def read() -> dict[str, Any] | None:
    line = sys.stdin.readline()
    if not line:
        return None
    return json.loads(line)


def say(text: str) -> None:
    if turns:
        turns[-1][1] += text
    update = {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": text}}
    send({"method": "session/update", "params": {"sessionId": SESSION, "update": update}})


def call(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """Ask the client and wait for its answer, noting a session/cancel that arrives meanwhile."""
    global next_id, pending_cancel
    next_id += 1
    my_id = next_id
    send({"id": my_id, "method": method, "params": params})
    while (message := read()) is not None:
        if message.get("method") == "session/cancel":
            pending_cancel = True
        elif message.get("id") == my_id and "method" not in message:
            return message
    sys.exit(0)


def prompt(request_id: Any, text: str) -> None:
    global pending_cancel
    stop = "end_turn"
    earlier = [prompt for prompt, _ in turns]
    turns.append([text, ""])
    if text == "hello":
        say("Hello ")
        say("there.")
    elif text == "MALFORMED":
        sys.stdout.write("this is not json {\n")
        sys.stdout.write(json.dumps({"hello": "world"}) + "\n")
        send({"id": 99999, "result": {}})
        sys.stdout.flush()
        say("still fine")
    elif text == "CRASH":
        say("about to fall over")
        sys.stderr.write("tiny agent: something broke\nFatal: out of cheese\n")
        sys.stderr.flush()
        sys.exit(3)
    elif text.startswith("READ "):
        answer = call("fs/read_text_file", {"sessionId": SESSION, "path": text[5:], "line": 2, "limit": 1})
        say(json.dumps(answer.get("result", answer.get("error"))))
    elif text.startswith("WRITE "):
        _, path, content = text.split(" ", 2)
        answer = call("fs/write_text_file", {"sessionId": SESSION, "path": path, "content": content})
        say(json.dumps(answer.get("result", answer.get("error"))))
    elif text == "ASK":
        options = [
            {"optionId": "yes", "name": "Allow", "kind": "allow_once"},
            {"optionId": "no", "name": "Reject", "kind": "reject_once"},
        ]
        tool = {"toolCallId": "tool-1", "title": "rm -rf build", "kind": "execute", "status": "pending"}
        update = {"sessionUpdate": "tool_call", **tool}
        send({"method": "session/update", "params": {"sessionId": SESSION, "update": update}})
        answer = call("session/request_permission", {"sessionId": SESSION, "toolCall": tool, "options": options})
        outcome = answer["result"]["outcome"]
        say(f"outcome={outcome.get('optionId', outcome['outcome'])}")
        if outcome["outcome"] == "cancelled" or pending_cancel:
            stop = "cancelled"
        else:
            done = {"sessionUpdate": "tool_call_update", "toolCallId": "tool-1", "status": "completed"}
            send({"method": "session/update", "params": {"sessionId": SESSION, "update": done}})
    elif text == "UNKNOWN":
        answer = call("vendor/somethingCustom", {"sessionId": SESSION})
        say(f"error={answer['error']['code']}")
    elif text == "RECALL":
        say("earlier: " + " | ".join(earlier))
    elif text == "HANG":
        while not pending_cancel and (message := read()) is not None:
            pending_cancel = message.get("method") == "session/cancel"
        stop = "cancelled"
    pending_cancel = False
    if loadable():
        STORE.mkdir(exist_ok=True)
        (STORE / f"{SESSION}.json").write_text(json.dumps(turns), encoding="utf-8")
    send({"id": request_id, "result": {"stopReason": stop}})


def loadable() -> bool:
    return bool({"loadable", "load-fails"} & set(sys.argv[1:]))


def load(request_id: Any, session_id: str) -> None:
    """session/load: replay the stored turns as session/update notifications, then answer."""
    global SESSION, turns
    stored = STORE / f"{session_id}.json"
    if "load-fails" in sys.argv[1:] or not stored.is_file():
        error = {"code": -32603, "message": "Internal error", "data": {"details": "No previous sessions found"}}
        send({"id": request_id, "error": error})
        return
    SESSION, turns = session_id, json.loads(stored.read_text(encoding="utf-8"))
    for user, answer in turns:
        chunk = {"sessionUpdate": "user_message_chunk", "content": {"type": "text", "text": user}}
        send({"method": "session/update", "params": {"sessionId": SESSION, "update": chunk}})
        for piece in (answer[: len(answer) // 2], answer[len(answer) // 2 :]):  # two chunks: the client joins them
            chunk = {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": piece}}
            send({"method": "session/update", "params": {"sessionId": SESSION, "update": chunk}})
    send({"id": request_id, "result": {}})


def main() -> None:
    global SESSION
    if "stubborn" in sys.argv[1:]:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while (message := read()) is not None:
        method, request_id = message.get("method"), message.get("id")
        if method == "initialize":
            info = {"name": "tiny-agent", "version": "1"}
            capabilities = {"loadSession": True} if loadable() else {}
            result = {"protocolVersion": 1, "agentInfo": info, "agentCapabilities": capabilities}
            send({"id": request_id, "result": result})
        elif method == "session/new":
            if loadable():
                SESSION = f"tiny-{os.getpid()}-{time.time_ns()}"
            send({"id": request_id, "result": {"sessionId": SESSION}})
        elif method == "session/load" and loadable():
            load(request_id, str(message["params"]["sessionId"]))
        elif method == "session/prompt":
            prompt(request_id, "".join(block.get("text", "") for block in message["params"]["prompt"]))
        elif request_id is not None and method is not None:
            send({"id": request_id, "error": {"code": -32601, "message": f"no {method}"}})
    if "stubborn" in sys.argv[1:]:
        while True:
            time.sleep(1)


if __name__ == "__main__":
    main()
