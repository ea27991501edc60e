// The agent console proper, mounted by console.js once the agent is signed in: status with time in
// status, offers, active interactions side by side, queues, colleagues, recorded messages, and the CRM
// host (screen pops, click to dial). State comes only from the event WebSocket (snapshot + events);
// the REST API changes it and the resulting events update the page.

import { api } from "./api.js";
import { LiveConnection } from "./connection.js";
import { setText } from "./dom.js";
import { Greetings } from "./greetings.js";
import { createSelectedHost } from "./hosts/select.js";
import { InteractionBoard } from "./interactions.js";
import { OfferList } from "./offers.js";
import { renderPresence } from "./presence.js";
import { renderQueues } from "./queues.js";
import { RecentList } from "./recent.js";
import { Softphone } from "./softphone.js";
import { shortcutAction, shortcutTarget } from "./shortcuts.js";
import { askNotificationPermission, unlockAudio } from "./sounds.js";
import { applyEvent, formatDuration, myAgent, reasonName, statusName } from "./state.js";

/** @typedef {import('./state.js').Snapshot} Snapshot */
/** @typedef {import('./hosts/host.js').CrmHost} CrmHost */

/**
 * @typedef {Object} MountOptions
 * @property {() => Promise<string>} realtimeUrl
 * @property {() => Promise<void>} signOut
 */

/** @type {Record<string, string>} */
const HOST_NAMES = { builtin: "Built-in CRM", lightning: "Salesforce Lightning", classic: "Salesforce Classic", standalone: "No CRM page" };

/**
 * The select's value for a status and reason.
 * @param {string} status
 * @param {string} reason
 * @returns {string}
 */
export function statusChoice(status, reason) {
  if (status === "available" || status === "working_offline") return status;
  if (status === "break") return ["Lunch", "Meeting", "Training", "Personal"].includes(reason) ? `break:${reason}` : "break:";
  return "";
}

/** @param {string} id */
function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the console page lacks #${id}`);
  return element;
}

/**
 * @param {{agentId: string|null, allowedOrigins?: string[]}} config
 * @param {MountOptions} options
 */
export function mount(config, options) {
  const now = () => Date.now() / 1000;
  /** @type {Snapshot|null} */
  let snapshot = null;
  let linkState = "connecting";
  /** @type {CrmHost|null} */
  let host = null;

  const root = byId("console-app");
  const statusBadge = byId("agent-status");
  const statusReason = byId("agent-status-reason");
  const statusTime = byId("status-time");
  const statusSelect = /** @type {HTMLSelectElement} */ (byId("status-select"));
  const statusPlaceholder = /** @type {HTMLOptionElement} */ (statusSelect.options[0]);
  const live = byId("live-state");
  const offlineBanner = byId("offline-banner");
  const problem = byId("console-error");
  const queuesBody = byId("queue-rows");
  const presenceList = byId("presence-list");
  const hostLabel = byId("crm-host");
  const idle = byId("idle-note");

  /**
   * Pops of offers not answered yet, by interaction: in the background (`handle`) where the host can,
   * else held (`open`) until the agent accepts. Accepted: brought to front (or opened); not taken: closed.
   * @type {Map<string, {handle: import('./hosts/host.js').PopHandle | null, open?: () => Promise<unknown>}>}
   */
  const offerPops = new Map();

  /** @param {string} message */
  function report(message) {
    problem.textContent = message;
    problem.hidden = !message;
  }

  /** @param {string|null} queueId */
  const queueName = (queueId) => (queueId && snapshot?.queues[queueId]?.name) || "";

  const softphone = new Softphone(byId("phone-state"), /** @type {HTMLAudioElement} */ (byId("phone-audio")), {
    stateOf: (id) => {
      const interaction = snapshot?.interactions[id];
      if (!interaction || interaction.agent_id !== snapshot?.me) return "other";
      return interaction.state === "offered" ? "offered" : interaction.state === "connected" ? "connected" : "other";
    },
    changed: () => render(),
    agentName: (agentId) => snapshot?.agents[agentId]?.display_name ?? "",
  }, byId("consult-call"));

  const offers = new OfferList(byId("offer-list"), byId("offer-announcer"), {
    accept: async (id) => {
      report("");
      await api.accept(id);
      // a call ringing in this browser is answered here (its INVITE may still be on its way)
      if (snapshot?.interactions[id]?.channel === "phone") {
        await softphone.answer(id).catch((/** @type {Error} */ error) => report(`The phone could not answer: ${error.message}`));
      }
    },
    reject: async (id) => {
      report("");
      await api.reject(id);
    },
    report,
    queueName,
  });
  /** The tenant's ready-made texts (read once, at mount). */
  let texts = { notes_templates: /** @type {string[]} */ ([]), quick_replies: /** @type {string[]} */ ([]) };
  void api.consoleTexts().then(
    (/** @type {{notes_templates: string[], quick_replies: string[]}} */ found) => (texts = found),
    () => undefined,
  );
  /** @type {Map<string, string>} interaction id -> the caller's name, from the screen pop's one match */
  const poppedNames = new Map();
  const board = new InteractionBoard(byId("interaction-list"), {
    report,
    queueName,
    knownName: (id) => poppedNames.get(id) ?? "",
    wrapUpChoices: (queueId) => {
      const queue = queueId ? snapshot?.queues[queueId] : undefined;
      return {
        dispositions: queue?.dispositions ?? [],
        required: queue?.disposition_required ?? false,
        templates: texts.notes_templates,
      };
    },
    quickReplies: () => texts.quick_replies,
    transferQueues: (channel) => Object.values(snapshot?.queues ?? {}).filter((q) => q.channel === channel),
    // the server checks capacity for the channel; the console offers only colleagues who are available
    transferAgents: () => Object.values(snapshot?.agents ?? {}).filter((a) => a.status === "available"),
    softphone,
  });
  const greetings = new Greetings(byId("greetings-panel"));
  const recent = new RecentList(byId("recent-list"), byId("recent-note"));
  const recentPanel = byId("recent-panel");
  let activeCount = 0;

  function render() {
    const t = now();
    root.dataset.link = linkState;
    if (!snapshot) return;
    for (const id of poppedNames.keys()) if (!snapshot.interactions[id]) poppedNames.delete(id);
    const me = myAgent(snapshot);
    if (me) {
      statusBadge.className = `status ${me.status}`;
      statusBadge.dataset.status = me.status;
      setText(statusBadge, statusName(me.status));
      setText(statusReason, me.reason ? reasonName(me.reason) : "");
      setText(statusTime, formatDuration(t - me.since));
      // The menu shows the agent's own choice (presence), which they return to once free: never
      // "Available" beside a Busy badge without saying it comes next.
      const presence = me.presence || me.status;
      const choice = statusChoice(presence, me.presence_reason ?? me.reason);
      const working = me.status !== presence; // busy or in wrap-up: the menu says what comes after
      const next = [...statusSelect.options].find((o) => o.value === choice && choice !== "");
      setText(statusPlaceholder, working ? `After this: ${next?.textContent ?? statusName(presence)}` : "Set status…");
      if (!picking) statusSelect.value = working ? "" : choice;
    }
    // Offline, nothing offered can be trusted: offers come back with the next snapshot if they still stand.
    const shown = linkState === "connected" ? snapshot : { ...snapshot, interactions: {} };
    offers.render(shown, t);
    board.render(snapshot, t);
    // one of mine completed (or went): the Recent tab, when open, shows it
    if (board.cards.size < activeCount && !recentPanel.hidden) void recent.load();
    activeCount = board.cards.size;
    idle.hidden = !(offers.cards.size === 0 && board.cards.size === 0);
    renderQueues(queuesBody, snapshot, t);
    renderPresence(presenceList, snapshot, t);
    settleOfferPops();
    softphone.renderConsult();
    if (softphone.consults.size > 0) idle.hidden = true; // on a colleague's consult: not "nothing to handle"
  }

  const connection = new LiveConnection(options.realtimeUrl, {
    onSnapshot(fresh) {
      snapshot = fresh;
      linkState = "connected";
      render();
      board.reload();
    },
    onEvent(event) {
      if (!snapshot) return;
      if (typeof event.type === "string" && event.type.startsWith("chat.")) {
        board.chatEvent(event);
        return;
      }
      if (event.type === "screen_pop.requested") {
        if (event.agent_id === snapshot.me) {
          if (event.record_name) {
            poppedNames.set(event.interaction_id, event.record_name);
            render();
          }
          void screenPop(event);
        }
        return;
      }
      snapshot = applyEvent(snapshot, event);
      render();
    },
    onState(state, detail) {
      linkState = state;
      live.dataset.state = state;
      setText(live, state === "connected" ? "connected" : state === "connecting" ? "connecting…" : state === "signed_out" ? "signed out" : "offline");
      offlineBanner.hidden = state === "connected" || state === "connecting";
      setText(
        offlineBanner,
        state === "signed_out" ? `Signed out: ${detail}` : `Offline${detail ? ` (${detail})` : ""}. Reconnecting by itself…`,
      );
      render();
    },
  });

  /** @param {unknown} error */
  function popProblem(error) {
    const text = error instanceof Error ? error.message : String(error);
    if (text.includes("did not answer")) {
      return "The CRM did not open the caller's record (it did not answer). Look the caller up in the CRM.";
    }
    if (text.includes("blocked")) return "The browser blocked the window with the caller's record: allow pop-ups for Callbridge.";
    return `The CRM could not open the caller's record: ${text}`;
  }

  /** @param {string} interactionId */
  function offeredToMe(interactionId) {
    const interaction = snapshot?.interactions[interactionId];
    return Boolean(interaction && interaction.agent_id === snapshot?.me && interaction.state === "offered");
  }

  /** @param {Record<string, any>} event */
  async function screenPop(event) {
    if (!host) return;
    const popHost = host;
    const target = event.target;
    const iid = event.interaction_id;
    /** @param {boolean} background */
    const open = (background) =>
      popHost.screenPop(
        {
          kind: target.kind,
          url: target.url,
          objectType: target.object_type || undefined,
          recordId: target.record_id || undefined,
          query: target.query || undefined,
          prefill: target.prefill,
        },
        { width: event.window.width ?? 0, height: event.window.height ?? 0, reuse: Boolean(event.window.reuse) },
        { background },
      );
    try {
      if (event.trigger === "offered") {
        const interaction = snapshot?.interactions[iid];
        if (!interaction || interaction.agent_id !== snapshot?.me) return; // the offer is over: nothing to show
        if (offeredToMe(iid)) {
          if (popHost.popsInBackground) {
            offerPops.set(iid, { handle: (await open(true)) || null });
          } else {
            offerPops.set(iid, { handle: null, open: () => open(false) });
          }
          root.dataset.lastPop = iid;
          settleOfferPops();
          return;
        }
      }
      await open(false);
      root.dataset.lastPop = iid;
    } catch (error) {
      report(popProblem(error));
    }
  }

  /** Brings to front the pops of offers the agent accepted, and closes those of offers that went elsewhere. */
  function settleOfferPops() {
    for (const [iid, pop] of offerPops) {
      if (offeredToMe(iid)) continue;
      offerPops.delete(iid);
      const interaction = snapshot?.interactions[iid];
      const taken = interaction && interaction.agent_id === snapshot?.me && interaction.state !== "offered";
      if (taken && pop.open) void pop.open().catch((error) => report(popProblem(error)));
      else if (taken && pop.handle && host?.focusPop) void host.focusPop(pop.handle).catch(() => {});
      else if (!taken && pop.handle?.created && host?.closePop) void host.closePop(pop.handle).catch(() => {});
    }
  }

  /** @param {import('./hosts/host.js').ClickToDialRequest} request */
  async function dial(request) {
    report("");
    /** @type {Record<string, unknown>} */
    const body = { to_address: request.number };
    if (request.recordId && request.objectType) {
      body.record = { object_type: request.objectType, record_id: String(request.recordId), name: request.recordName ?? "" };
    }
    try {
      await api.dial(body);
    } catch (error) {
      report(`Could not call ${request.number}: ${error instanceof Error ? error.message : error}`);
    }
  }

  // while the agent has the menu open, the page does not change it under them
  let picking = false;
  statusSelect.addEventListener("pointerdown", () => (picking = true));
  statusSelect.addEventListener("keydown", () => (picking = true));
  statusSelect.addEventListener("blur", () => (picking = false));
  statusSelect.addEventListener("change", () => {
    picking = false;
    const [status, reason = ""] = statusSelect.value.split(":");
    report("");
    api.setStatus(status, reason).catch((/** @type {Error} */ error) => report(`Status: ${error.message}`));
  });
  statusSelect.disabled = false; // served disabled: a control must not look usable before it works
  // The first click anywhere allows the offer chime and asks about notifications.
  document.addEventListener(
    "pointerdown",
    () => {
      unlockAudio();
      askNotificationPermission();
    },
    { once: true },
  );
  document.addEventListener(
    "keydown",
    () => {
      unlockAudio();
    },
    { once: true },
  );

  // Keyboard shortcuts (shortcuts.js): they press the same buttons a click would, so errors read the same.
  document.addEventListener("keydown", (event) => {
    const action = shortcutAction(event);
    if (!action) return;
    event.preventDefault();
    if (action === "focus-offer") {
      offers.focusFirst();
      return;
    }
    const button = shortcutTarget(root, action);
    if (button && !button.disabled && !button.hidden) button.click();
  });

  for (const tab of root.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => selectTab(/** @type {HTMLElement} */ (tab)));
    tab.addEventListener("keydown", (event) => {
      const key = /** @type {KeyboardEvent} */ (event).key;
      if (key !== "ArrowRight" && key !== "ArrowLeft") return;
      const tabs = [...root.querySelectorAll("[role=tab]")];
      const index = tabs.indexOf(tab) + (key === "ArrowRight" ? 1 : -1);
      const next = /** @type {HTMLElement} */ (tabs[(index + tabs.length) % tabs.length]);
      selectTab(next);
      next.focus();
    });
  }
  /** @param {HTMLElement} tab */
  function selectTab(tab) {
    for (const other of root.querySelectorAll("[role=tab]")) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.setAttribute("tabindex", selected ? "0" : "-1");
      const panel = document.getElementById(other.getAttribute("aria-controls") ?? "");
      if (panel) panel.hidden = !selected;
    }
    if (tab.getAttribute("aria-controls") === "greetings-panel" && !greetings.loaded) void greetings.load();
    if (tab.getAttribute("aria-controls") === "recent-panel") void recent.load();
  }

  const signOutButton = /** @type {HTMLButtonElement} */ (byId("sign-out"));
  signOutButton.addEventListener("click", async () => {
    signOutButton.disabled = true;
    connection.stop();
    softphone.stop();
    // Tell the CRM page to stop offering click to dial, but never let a host that does not answer
    // (a page without the CTI protocol, a closed CRM window) keep the agent signed in.
    const hostDone = host?.disableClickToDial().catch(() => {});
    await Promise.race([hostDone, new Promise((resolve) => setTimeout(resolve, 1000))]);
    await options.signOut();
  });
  signOutButton.disabled = false;

  setInterval(render, 1000);
  connection.start();
  void softphone.start();

  createSelectedHost(config.allowedOrigins ?? [])
    .then(async (found) => {
      host = found;
      hostLabel.dataset.host = found.name;
      hostLabel.dataset.mode = found.consoleMode ? "console" : "non-console";
      setText(hostLabel, `${HOST_NAMES[found.name] ?? found.name} · ${found.consoleMode ? "console mode" : "own window"}`);
      await found.enableClickToDial((request) => void dial(request));
      hostLabel.dataset.clickToDial = "on";
    })
    .catch((/** @type {Error} */ error) => {
      hostLabel.dataset.host = "none";
      setText(hostLabel, `CRM not connected: ${error.message}`);
    });

  return { connection, render };
}
