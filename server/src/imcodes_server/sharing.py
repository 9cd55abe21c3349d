"""Who may do what on a machine: its owner everything; a user it is shared with as `participant` may watch and
type; as `viewer` may only watch. A share names a whole machine or one session of it.

`decide_role` is the one decision (`role_for` reads its inputs from the database; the bridge feeds it the inputs it
caches per browser socket, refreshed at once when a share is made or revoked). `may_send` says which browser frames
each role may send. Commands non-owners send are written to `audit_events` (`record_command`), never their text;
so is the owner making or revoking a share (`record_share`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from imcodes_core.protocol.frames import DriverInfo, MachineInfo, SessionInfo
from imcodes_server.models import Machine
from imcodes_server.models_sharing import AuditEvent, Share

_logger = logging.getLogger("imcodes.server.sharing")

OWNER, PARTICIPANT, VIEWER = "owner", "participant", "viewer"
SHARE_ROLES = (VIEWER, PARTICIPANT)
_RANK = {VIEWER: 1, PARTICIPANT: 2, OWNER: 3}

# Watching: what a viewer may send (the list entries and live frames it receives need no request).
WATCH_FRAMES = frozenset({"terminal.subscribe", "terminal.unsubscribe", "timeline.replay"})
# Driving an existing session: participants too.
DRIVE_FRAMES = frozenset(
    {"terminal.input", "terminal.resize", "session.prompt", "permission.answer", "session.interrupt"}
)
# Creating, ending and renaming sessions stays with the owner.
OWNER_FRAMES = frozenset({"session.start", "session.stop", "session.rename"})


def best(*roles: str | None) -> str | None:
    found = [role for role in roles if role is not None]
    return max(found, key=_RANK.__getitem__) if found else None


@dataclass
class Grant:
    """What one user was given of one machine: a role for the whole machine and/or roles for single sessions."""

    machine_role: str | None = None
    session_roles: dict[str, str] = field(default_factory=dict)

    def add(self, session: str | None, role: str) -> None:
        if session is None:
            self.machine_role = best(self.machine_role, role)
        else:
            self.session_roles[session] = best(self.session_roles.get(session), role) or role

    def role(self, session: str | None) -> str | None:
        """The role for `session`; for no session (the machine itself): the best role of any share."""
        if session is None:
            return best(self.machine_role, *self.session_roles.values())
        return best(self.machine_role, self.session_roles.get(session))

    def shows(self, session: str) -> bool:
        return self.machine_role is not None or session in self.session_roles


def decide_role(owns: bool, grant: Grant | None, session: str | None) -> str | None:
    """owner | participant | viewer | None (None: the machine does not exist for this user)."""
    if owns:
        return OWNER
    return grant.role(session) if grant is not None else None


def may_send(role: str, frame_type: str) -> bool:
    if role == OWNER:
        return True
    if frame_type in WATCH_FRAMES:
        return True
    return role == PARTICIPANT and frame_type in DRIVE_FRAMES


def refusal(role: str, frame_type: str) -> str:
    if role == VIEWER:
        return f"you are a viewer of this machine: view only, {frame_type} is not allowed"
    return f"you are a participant: only the owner may {frame_type.removeprefix('session.')} sessions"


async def grants_for(user_id: int, machine: str | None = None) -> dict[str, Grant]:
    """machine -> Grant for every live share given to the user (of machines not revoked)."""
    query = Share.filter(grantee_id=user_id, revoked_at__isnull=True, machine__revoked_at__isnull=True)
    if machine is not None:
        query = query.filter(machine_id=machine)
    grants: dict[str, Grant] = {}
    for machine_id, session, role in await query.values_list("machine_id", "session", "role"):
        grants.setdefault(machine_id, Grant()).add(session, role)
    return grants


async def owns_machine(user_id: int, machine: str) -> bool:
    return await Machine.filter(id=machine, owner_id=user_id, revoked_at__isnull=True).exists()


async def role_for(user_id: int, machine: str, session: str | None = None) -> str | None:
    owns = await owns_machine(user_id, machine)
    grant = None if owns else (await grants_for(user_id, machine)).get(machine)
    return decide_role(owns, grant, session)


async def shared_machines(grants: dict[str, Grant], online: dict[str, list[dict[str, Any]]]) -> list[MachineInfo]:
    """The machines shared with a user as browsers list them: only the sessions each share shows, with the role."""
    from imcodes_server.bridge.models import StoredSession

    if not grants:
        return []
    machines = await Machine.filter(id__in=list(grants), revoked_at__isnull=True).order_by("created_at")
    stored = await StoredSession.filter(machine_id__in=list(grants), removed_at__isnull=True).order_by("id")
    sessions: dict[str, list[SessionInfo]] = {}
    for row in stored:
        machine_id = row.machine_id  # type: ignore[attr-defined]
        if not grants[machine_id].shows(row.name):
            continue
        try:
            sessions.setdefault(machine_id, []).append(SessionInfo.model_validate(row.info))
        except ValidationError:
            _logger.warning("stored session %s of %s no longer validates; left out", row.name, machine_id)
    result: list[MachineInfo] = []
    for machine in machines:
        drivers = online.get(machine.id)
        try:
            result.append(
                MachineInfo(
                    machine=machine.id,
                    hostname=machine.hostname,
                    online=drivers is not None,
                    role=grants[machine.id].role(None) or VIEWER,
                    drivers=[DriverInfo.model_validate(d) for d in drivers or []],
                    sessions=sessions.get(machine.id, []),
                )
            )
        except ValidationError:
            _logger.warning("shared machine %r cannot be described to browsers; left out", machine.id)
    return result


def text_length(frame: dict[str, Any]) -> int | None:
    """How much was typed/sent (characters), for the audit trail, which never keeps the text itself."""
    for key in ("data", "text", "choice"):
        value = frame.get(key)
        if isinstance(value, str):
            return len(value)
    return None


async def record_command(
    *,
    user_id: int,
    user_name: str,
    machine: str,
    session: str | None,
    role: str,
    frame: dict[str, Any],
    allowed: bool,
) -> None:
    await AuditEvent.create(
        machine_id=machine,
        session=session,
        user_id=user_id,
        user_name=user_name[:120],
        role=role,
        frame_type=str(frame.get("type", "?"))[:64],
        allowed=allowed,
        text_length=text_length(frame),
    )


SHARE_CREATE, SHARE_REVOKE = "share.create", "share.revoke"


async def record_share(*, owner_id: int, owner_name: str, share: Share, grantee_name: str, action: str) -> None:
    """The owner made (or changed the role of) or revoked a share: who, what, which role, for whom."""
    await AuditEvent.create(
        machine_id=share.machine_id,  # type: ignore[attr-defined]
        session=share.session,
        user_id=owner_id,
        user_name=owner_name[:120],
        role=share.role,
        frame_type=action,
        allowed=True,
        detail=f"{grantee_name} (#{share.grantee_id})"[:200],  # type: ignore[attr-defined]
    )
