// The new-session, rename and stop dialogs. Each sends one command with an id and shows its ack or error.

import { $, describeFailure, h } from "./dom.js";
import { sessionTitle } from "./sidebar.js";

function setStatus(el, text, kind = "info") {
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = !text;
}

function fillDrivers(store, machineName) {
  const select = $("#ns-driver");
  const drivers = store.machine(machineName)?.drivers ?? [];
  const options = drivers.length
    ? drivers.map((d) =>
        h(
          "option",
          { value: d.name, disabled: d.installed === false },
          d.installed === false ? `${d.title || d.name} (not installed)` : d.title || d.name,
        ),
      )
    : [h("option", { value: "shell" }, "shell")]; // an offline machine we never heard drivers from: the built-in
  select.replaceChildren(...options);
  const firstUsable = drivers.find((d) => d.installed !== false);
  if (firstUsable) select.value = firstUsable.name;
}

export function setupDialogs({ store, connection, openSession, current }) {
  const nsDialog = $("#new-session-dialog");
  const nsStatus = $("#ns-status");
  const nsSubmit = $("#ns-submit");

  /** "Resume" buttons for the machine's ended sessions whose conversation is known: each fills the form in. */
  function fillEarlier(machineName) {
    const box = $("#ns-earlier");
    const earlier = store.endedConversations(machineName);
    box.replaceChildren(
      ...earlier.map((s) => {
        const button = h("button", { type: "button", class: "ns-resume-pick" }, `Resume ${sessionTitle(s)}`);
        button.title = `${s.driver}: ${s.conversation}`;
        button.addEventListener("click", () => prefill(s));
        return button;
      }),
    );
    box.hidden = earlier.length === 0;
  }

  function prefill(session) {
    const driver = $("#ns-driver");
    if ([...driver.options].some((o) => o.value === session.driver)) driver.value = session.driver;
    $("#ns-cwd").value = session.cwd ?? "";
    $("#ns-label").value = session.label ?? "";
    $("#ns-resume").value = session.conversation ?? "";
  }

  function openNewSession(resumeFrom = null) {
    const machines = store.machines();
    const select = $("#ns-machine");
    select.replaceChildren(
      ...machines.map((m) =>
        h("option", { value: m.machine }, `${m.hostname || m.machine}${m.online ? "" : " (offline)"}`),
      ),
    );
    const preferred = current()?.machine ?? machines.find((m) => m.online)?.machine;
    if (preferred) select.value = preferred;
    fillDrivers(store, select.value);
    fillEarlier(select.value);
    $("#ns-resume").value = "";
    if (resumeFrom?.conversation) prefill(resumeFrom);
    setStatus(nsStatus, machines.length ? "" : "No machine is paired yet.", "error");
    nsSubmit.disabled = machines.length === 0;
    nsDialog.showModal();
  }

  $("#ns-machine").addEventListener("change", (e) => {
    fillDrivers(store, e.target.value);
    fillEarlier(e.target.value);
  });
  $("#ns-cancel").addEventListener("click", () => nsDialog.close());
  $("#new-session-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const machine = $("#ns-machine").value;
    const frame = {
      type: "session.start",
      machine,
      driver: $("#ns-driver").value,
      cwd: $("#ns-cwd").value.trim(),
      label: $("#ns-label").value.trim(),
    };
    const resume = $("#ns-resume").value.trim();
    if (resume) frame.resume = resume; // absent, not "": an empty id is refused by the protocol
    nsSubmit.disabled = true;
    setStatus(nsStatus, "Starting…");
    const answer = await connection.request(frame);
    nsSubmit.disabled = false;
    if (answer.type !== "ack" || answer.ok === false) {
      setStatus(nsStatus, `Could not start: ${describeFailure(answer)}`, "error");
      return;
    }
    if (answer.result?.queued) {
      setStatus(nsStatus, "Queued: the machine is offline; the session starts when its daemon reconnects.", "info");
      return;
    }
    const session = answer.result?.session;
    nsDialog.close();
    $("#ns-label").value = "";
    $("#ns-resume").value = "";
    if (session?.name) {
      store.applySessionUpdated(machine, session);
      openSession(machine, session.name);
    }
  });

  const renameDialog = $("#rename-dialog");
  const renameStatus = $("#rename-status");
  $("#rename-cancel").addEventListener("click", () => renameDialog.close());
  $("#rename-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const target = current();
    if (!target) return renameDialog.close();
    setStatus(renameStatus, "Renaming…");
    const label = $("#rename-label").value.trim();
    const answer = await connection.request({ type: "session.rename", ...target, label });
    if (answer.type !== "ack" || answer.ok === false) {
      setStatus(renameStatus, `Could not rename: ${describeFailure(answer)}`, "error");
      return;
    }
    renameDialog.close();
  });

  const stopDialog = $("#stop-dialog");
  const stopStatus = $("#stop-status");
  $("#stop-cancel").addEventListener("click", () => stopDialog.close());
  $("#stop-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const target = current();
    if (!target) return stopDialog.close();
    setStatus(stopStatus, "Stopping…");
    const answer = await connection.request({ type: "session.stop", ...target });
    if (answer.type !== "ack" || answer.ok === false) {
      setStatus(stopStatus, `Could not stop: ${describeFailure(answer)}`, "error");
      return;
    }
    stopDialog.close();
  });

  return {
    openNewSession,
    openRename() {
      const target = current();
      const session = target && store.session(target.machine, target.session);
      if (!session) return;
      $("#rename-label").value = session.label || "";
      setStatus(renameStatus, "");
      renameDialog.showModal();
    },
    openStop() {
      const target = current();
      const session = target && store.session(target.machine, target.session);
      if (!session) return;
      $("#stop-text").textContent = `“${sessionTitle(session)}” and the program running in it will be stopped.`;
      setStatus(stopStatus, "");
      stopDialog.showModal();
    },
  };
}
