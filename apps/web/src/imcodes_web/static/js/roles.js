// The role this page gives the user in each session, for its controls (composer, Interrupt, permission buttons,
// terminal input, key bar). Pure (no DOM): tested with node.
//
// The `machines` frame carries one role per machine: the best any share gives (a participant share of one session
// makes the machine "participant"). Which role applies to which session comes from the shares given to this user
// (`GET /api/shares`, shared_with_me), decided as the server's `sharing.Grant.role` does: the better of the
// whole-machine share and the session's own share. The server still decides every frame; this only keeps the page
// from offering what it would refuse.

export const OWNER = "owner";
export const PARTICIPANT = "participant";
export const VIEWER = "viewer";
const RANK = { [VIEWER]: 1, [PARTICIPANT]: 2, [OWNER]: 3 };

const known = (role) => Object.hasOwn(RANK, role);

function better(a, b) {
  if (!known(a)) return known(b) ? b : null;
  if (!known(b)) return a;
  return RANK[b] > RANK[a] ? b : a;
}

function lower(a, b) {
  return RANK[b] < RANK[a] ? b : a;
}

/**
 * shared_with_me rows ({machine, session|null, role}) -> Map machine -> {machine: role|null, sessions: Map}.
 * Rows with an unknown role are left out (a newer server's role is not guessed at).
 */
export function grantsFromShares(rows) {
  const grants = new Map();
  for (const row of rows ?? []) {
    if (!row || typeof row.machine !== "string" || !known(row.role) || row.role === OWNER) continue;
    if (!grants.has(row.machine)) grants.set(row.machine, { machine: null, sessions: new Map() });
    const grant = grants.get(row.machine);
    if (row.session) grant.sessions.set(row.session, better(grant.sessions.get(row.session), row.role));
    else grant.machine = better(grant.machine, row.role);
  }
  return grants;
}

/**
 * The role for `session` of a machine the `machines` frame listed with `machineRole`, given this user's `grant` on it
 * (from grantsFromShares; undefined while the shares are not known).
 * - owner: owner;
 * - shares not known yet: the machine's role (what the page did before; the server refuses the rest);
 * - known: the better of the whole-machine share and the session's share, never above the machine's role (a share
 *   list older than the latest `machines` frame must not give more than the server now says); a listed session no
 *   share names (the two answers crossed) is view only.
 */
export function sessionRole(machineRole, grant, session) {
  const role = known(machineRole) ? machineRole : OWNER;
  if (role === OWNER || !grant) return role;
  const granted = better(grant.machine, session ? grant.sessions.get(session) : null);
  return granted ? lower(role, granted) : VIEWER;
}
