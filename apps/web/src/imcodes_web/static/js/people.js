// "People" in the "Devices & security" dialog (owner only): the other accounts on this server, each with a Remove
// button that asks once more, naming the person and what goes with them, then POSTs /api/users/<id>/remove. The
// server deletes the account with everything it holds and closes its sockets and daemon links at once.
// security.js passes its request helper (cookie + X-CSRF-Token) in, and `after`: the "Invite someone" section.

import { confirmButton } from "./accounts.js";
import { h } from "./dom.js";

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The confirmation: who, and everything that goes with them (their machines counted). */
export function removalQuestion(person) {
  const machines = Number(person.machines) || 0;
  const paired = machines
    ? `the ${plural(machines, "machine")} they paired (disconnected now, then deleted with their sessions and history)`
    : "any machine they paired (none now)";
  return `Remove “${person.name}”? This deletes their account at once: their browser sessions (signed out everywhere), `
    + `API keys, passkeys and second factor, every share given to them or made by them, and ${paired}. `
    + "The audit trail keeps their name. There is no undo: to let them back, send a new invitation.";
}

export function setupPeople({ api, fail, say, ago, after, onRemoved = async () => {} }) {
  const list = h("ul", { class: "device-list", id: "people" });
  const people = h("section", { class: "security-section", id: "security-people", "aria-labelledby": "security-people-title" },
    h("h3", { id: "security-people-title" }, "People"),
    h("p", { class: "small" }, "Everyone else with an account on this server. Removing someone signs them out everywhere ",
      "and takes their machines off this server."),
    list);
  people.hidden = true;
  after.after(people);

  function personRow(person) {
    const machines = Number(person.machines) || 0;
    return h("li", { class: "device", dataset: { kind: "person", user: String(person.id) } },
      h("div", { class: "device-text" },
        h("span", { class: "device-name" }, person.name),
        h("span", { class: "device-detail", title: person.created_at || "" },
          `joined ${ago(person.created_at)}, ${plural(machines, "machine")} paired`)),
      confirmButton("Remove", removalQuestion(person), async () => {
        const result = await api("POST", `/api/users/${person.id}/remove`);
        if (!result.ok) {
          fail(result, `remove ${person.name}`);
          if (result.status === 404) await refresh(); // already gone: the list says so
          return false;
        }
        const revoked = Number(result.body?.machines_revoked) || 0;
        say(`${person.name} is removed: signed out everywhere${revoked ? `, ${plural(revoked, "machine")} disconnected` : ""}.`);
        await Promise.all([refresh(), onRemoved()]);
        return true;
      }, "remove-person"));
  }

  async function refresh() {
    const result = await api("GET", "/api/people");
    if (result.status === 403) {
      people.hidden = true; // only the owner lists and removes people
      return;
    }
    if (!result.ok) {
      fail(result, "load the people on this server");
      return;
    }
    people.hidden = false;
    const rows = result.body?.people ?? [];
    list.replaceChildren(...(rows.length ? rows.map(personRow) : [h("li", { class: "muted" }, "Nobody else yet.")]));
  }

  return { refresh };
}
