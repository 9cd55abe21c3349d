"""``imcodes bind URL --code CODE``: pair this machine with a server using a one-time code from the web client.

The code is sent once with this machine's id to ``URL/api/pair``; the answer carries the machine's own token, which
goes straight into ``<home>/link.json`` (0600, written atomically) and is never printed. An existing machine id in
link.json is kept, so re-binding the same machine rotates its token instead of creating a second machine.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

PAIR_TIMEOUT = 20.0
NEW_CODE_HINT = "make a new code in the web client (Devices & security > Pair a machine) and run this again"


class BindError(click.ClickException):
    """A failure the user can act on; click prints it as ``Error: ...`` and exits with status 1."""


def default_home() -> Path:
    return Path(os.environ.get("IMCODES_HOME") or Path.home() / ".imcodes").expanduser()


def server_origin(url: str) -> str:
    """``scheme://host[:port]`` of the server address, the Origin the server compares with its own."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BindError(f"{url!r} is not a server address; give it like https://imcodes.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BindError(f"give the server's address without a path: {parts.scheme}://{parts.netloc}")
    return f"{parts.scheme}://{parts.netloc}"


def machine_id_for(home: Path) -> str:
    """The id from an earlier link.json (re-binding keeps the machine), otherwise a new one."""
    try:
        previous = json.loads((home / "link.json").read_text("utf-8"))
    except (OSError, ValueError):
        previous = None
    if isinstance(previous, dict) and isinstance(previous.get("machine"), str) and previous["machine"]:
        return str(previous["machine"])
    return "m-" + secrets.token_hex(8)


def write_link_file(home: Path, server: str, token: str, machine: str) -> Path:
    """link.json with mode 0600 from its first byte, replaced atomically so a daemon never reads half a file."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = home / f".link.json.{os.getpid()}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"server": server, "token": token, "machine": machine}, handle)
        os.chmod(temporary, 0o600)  # an existing leftover file keeps its mode through O_CREAT
        os.replace(temporary, home / "link.json")
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return home / "link.json"


def _error_message(body: bytes) -> tuple[str, str]:
    try:
        error = json.loads(body).get("error", {})
        return str(error.get("code", "")), str(error.get("message", ""))
    except (ValueError, AttributeError):
        return "", ""


def _retry_text(retry_after: str | None) -> str:
    try:
        seconds = int(retry_after or "")
    except ValueError:
        return "try again in about 15 minutes"
    minutes = max(1, round(seconds / 60))
    return f"try again in about {minutes} minute{'s' if minutes > 1 else ''}"


def explain_http_error(status: int, body: bytes, retry_after: str | None, origin: str) -> str:
    code, message = _error_message(body)
    if status == 429:
        return f"too many wrong pairing codes from this address: {_retry_text(retry_after)}"
    if code == "bad_code" or (status == 403 and code != "bad_origin"):
        return f"the pairing code is wrong, already used or expired: {NEW_CODE_HINT}"
    if code == "bad_origin":
        return (
            f"the server does not answer to {origin}: use the exact address you open the web client with "
            "(same scheme, host name and port)"
        )
    if code == "machine_taken":
        return "this machine is paired to another account; sign in to that account to pair it, or use another --home"
    if status == 400:
        return f"the server refused the request ({message or 'bad request'}); check the code as typed"
    if status == 404:
        return f"{origin} has no pairing API: is it an imcodes server?"
    return f"the server answered {status} ({message or 'no details'}); try again, then check the server's log"


def pair(origin: str, code: str, machine: str, hostname: str) -> dict[str, Any]:
    """POST the code to ``origin/api/pair``; the answer ``{machine_id, token}`` or a BindError saying what to do."""
    request = urllib.request.Request(  # noqa: S310 - server_origin allows only http and https
        f"{origin}/api/pair",
        data=json.dumps({"code": code.strip(), "machine_id": machine, "hostname": hostname}).encode(),
        headers={"Content-Type": "application/json", "Origin": origin, "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=PAIR_TIMEOUT) as response:  # noqa: S310 - scheme checked above
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            raise BindError(
                explain_http_error(error.code, error.read(), error.headers.get("Retry-After"), origin)
            ) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise BindError(
            f"cannot reach {origin} ({reason}); check the address and that the server is running"
        ) from None
    except ValueError:
        raise BindError(f"{origin} did not answer with JSON: is it an imcodes server?") from None
    if not (isinstance(answer, dict) and isinstance(answer.get("token"), str) and answer["token"]):
        raise BindError(f"{origin} answered without a machine token: is it an imcodes server?")
    return answer


@click.command("bind")
@click.argument("url")
@click.option("--code", required=True, help="The one-time pairing code shown in the web client.")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="imcodes data directory (default: IMCODES_HOME or ~/.imcodes).",
)
def bind_command(url: str, code: str, home: Path | None) -> None:
    """Pair this machine with the server at URL using a one-time code from Devices & security."""
    origin = server_origin(url)
    home = (home or default_home()).expanduser()
    if not code.strip():
        raise BindError(f"the pairing code is empty: {NEW_CODE_HINT}")
    machine = machine_id_for(home)
    answer = pair(origin, code, machine, socket.gethostname())
    machine = str(answer.get("machine_id") or machine)
    path = write_link_file(home, origin, answer["token"], machine)
    click.echo(f"paired this machine as {machine} with {origin}")
    click.echo(f"its token is in {path} (readable only by you); start the daemon with: imcodes daemon")
