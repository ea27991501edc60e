// The live wallboard: starts from GET …/reports/wallboard, then follows the event WebSocket
// (agent.status_changed for agents, wallboard.queue_stats for queue figures; docs/events.md).

import { reasonName, statusName } from "../console/state.js";
import { duration, el, getJson, slCell } from "./common.js";

/**
 * @typedef {{id: string, name: string, channel: string, waiting: number, oldest_enqueued_at: number | null,
 *   available: number, busy: number, wrap_up: number, on_break: number, working_offline: number, day: string,
 *   offered: number, answered: number, abandoned: number, service_level: number | null,
 *   service_level_with_abandoned: number | null}} QueueStats
 * @typedef {{id: string, display_name: string, status: string, reason: string, since: number,
 *   interaction_ids: string[], queue_ids?: string[], team?: string}} AgentRow
 * @typedef {{waiting_amber: number | null, waiting_red: number | null, longest_wait_amber_seconds: number | null,
 *   longest_wait_red_seconds: number | null, service_level_amber_percent: number | null,
 *   service_level_red_percent: number | null}} Thresholds
 */

/** @type {(keyof Thresholds)[]} */
const THRESHOLD_FIELDS = [
  "waiting_amber",
  "waiting_red",
  "longest_wait_amber_seconds",
  "longest_wait_red_seconds",
  "service_level_amber_percent",
  "service_level_red_percent",
];

const root = /** @type {HTMLElement} */ (document.getElementById("wallboard"));
const tenant = root.dataset.tenant || "";
const queueFilter = /** @type {HTMLSelectElement} */ (document.getElementById("queue-filter"));
const teamFilter = /** @type {HTMLSelectElement} */ (document.getElementById("team-filter"));
const connection = /** @type {HTMLElement} */ (document.getElementById("connection"));
const queueBody = /** @type {HTMLElement} */ (document.querySelector("#queues tbody"));
const agentBody = /** @type {HTMLElement} */ (document.querySelector("#agents tbody"));
const today = /** @type {HTMLElement} */ (document.getElementById("today"));

/** @type {Map<string, QueueStats>} */
const queues = new Map();
/** @type {Map<string, AgentRow>} */
const agents = new Map();
/** @type {Map<string, Thresholds>} queue id -> its thresholds */
const thresholds = new Map();
/** @type {Map<string, number>} queue id -> `at` of the figures shown (older events are ignored) */
const queueAt = new Map();
let skew = 0; // server clock - browser clock, seconds

const now = () => Date.now() / 1000 + skew;

/** @param {HTMLSelectElement} select @param {string[][]} options */
function fillSelect(select, options) {
  const chosen = select.value;
  while (select.options.length > 1) select.remove(1);
  for (const [value, label] of options) select.append(new Option(label, value));
  select.value = options.some(([value]) => value === chosen) ? chosen : "";
}

/**
 * "red", "amber" or "" for a figure against its thresholds (higher is worse unless `lowerIsWorse`).
 * @param {number | null | undefined} value @param {number | null | undefined} amber
 * @param {number | null | undefined} red @param {boolean} [lowerIsWorse]
 */
export function level(value, amber, red, lowerIsWorse = false) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "";
  const past = (/** @type {number | null | undefined} */ limit) =>
    limit !== null && limit !== undefined && (lowerIsWorse ? value < limit : value >= limit);
  return past(red) ? "red" : past(amber) ? "amber" : "";
}

const LEVEL_WORDS = { red: "past the red threshold", amber: "past the amber threshold" };

/** @param {Element} cell @param {string} found */
function showLevel(cell, found) {
  cell.classList.remove("level-amber", "level-red");
  if (found) cell.classList.add(`level-${found}`);
  cell.setAttribute("data-level", found);
  if (found) cell.setAttribute("title", LEVEL_WORDS[/** @type {"red" | "amber"} */ (found)]);
  else cell.removeAttribute("title");
}

/** @param {string} queueId @param {number | null} oldest */
function longestLevel(queueId, oldest) {
  const t = thresholds.get(queueId);
  return oldest === null ? "" : level(now() - oldest, t?.longest_wait_amber_seconds, t?.longest_wait_red_seconds);
}

function renderQueues() {
  const wanted = queueFilter.value;
  queueBody.replaceChildren();
  for (const q of [...queues.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    if (wanted && q.id !== wanted) continue;
    const sl = el("td");
    const sl2 = el("td");
    slCell(sl, q.service_level);
    slCell(sl2, q.service_level_with_abandoned);
    const longest = q.oldest_enqueued_at === null ? "–" : duration(now() - q.oldest_enqueued_at);
    const row = el("tr", { "data-queue": q.id }, [
      el("td", {}, [q.name]),
      el("td", { class: "num", "data-field": "waiting" }, [String(q.waiting)]),
      el("td", { class: "num", "data-field": "longest", "data-since": String(q.oldest_enqueued_at ?? "") }, [longest]),
      el("td", { class: "num", "data-field": "available" }, [String(q.available)]),
      el("td", { class: "num", "data-field": "busy" }, [String(q.busy)]),
      el("td", { class: "num", "data-field": "wrap_up" }, [String(q.wrap_up)]),
      el("td", { class: "num", "data-field": "on_break" }, [String(q.on_break)]),
      el("td", { class: "num", "data-field": "offered" }, [String(q.offered)]),
      el("td", { class: "num", "data-field": "answered" }, [String(q.answered)]),
      el("td", { class: "num", "data-field": "abandoned" }, [String(q.abandoned)]),
      sl,
      sl2,
    ]);
    const t = thresholds.get(q.id);
    showLevel(/** @type {Element} */ (row.querySelector('[data-field="waiting"]')), level(q.waiting, t?.waiting_amber, t?.waiting_red));
    showLevel(/** @type {Element} */ (row.querySelector('[data-field="longest"]')), longestLevel(q.id, q.oldest_enqueued_at));
    sl.setAttribute("data-field", "service_level");
    if (q.service_level !== null) {
      showLevel(sl, level(q.service_level * 100, t?.service_level_amber_percent, t?.service_level_red_percent, true));
    }
    queueBody.append(row);
  }
}

function renderAgents() {
  const queue = queueFilter.value;
  const team = teamFilter.value;
  agentBody.replaceChildren();
  for (const a of [...agents.values()].sort((x, y) => x.display_name.localeCompare(y.display_name))) {
    if (queue && !(a.queue_ids || []).includes(queue)) continue;
    if (team && a.team !== team) continue;
    const link = el("a", { href: `/supervisor/reports?kind=timeline&agent_id=${encodeURIComponent(a.id)}` }, ["Timeline"]);
    agentBody.append(
      el("tr", { "data-agent": a.id }, [
        el("td", {}, [a.display_name]),
        el("td", {}, [a.team || ""]),
        el("td", {}, [el("span", { class: `status ${a.status}`, "data-field": "status" }, [statusName(a.status)])]),
        el("td", { "data-field": "reason" }, [a.reason ? reasonName(a.reason) : ""]),
        el("td", { class: "num", "data-field": "since", "data-since": String(a.since) }, [duration(now() - a.since)]),
        el("td", { class: "num" }, [String(a.interaction_ids.length)]),
        el("td", {}, [link]),
      ]),
    );
  }
}

function tick() {
  for (const cell of document.querySelectorAll("[data-since]")) {
    const since = Number(/** @type {HTMLElement} */ (cell).dataset.since);
    if (/** @type {HTMLElement} */ (cell).dataset.since) cell.textContent = duration(now() - since);
  }
  for (const row of queueBody.querySelectorAll("tr[data-queue]")) {
    const cell = /** @type {HTMLElement} */ (row.querySelector('[data-field="longest"]'));
    const since = cell.dataset.since ? Number(cell.dataset.since) : null;
    showLevel(cell, longestLevel(/** @type {HTMLElement} */ (row).dataset.queue || "", since));
  }
}

/** @param {QueueStats[]} list @param {number} at */
function applyQueueStats(list, at) {
  for (const q of list) {
    if ((queueAt.get(q.id) ?? -Infinity) > at) continue;
    queueAt.set(q.id, at);
    queues.set(q.id, q);
    today.textContent = `today, ${q.day}`;
  }
  renderQueues();
}

/** @param {any} event */
function applyEvent(event) {
  if (event.type === "wallboard.queue_stats") {
    applyQueueStats(event.queues, event.at);
  } else if (event.type === "agent.status_changed") {
    const known = agents.get(event.agent.id);
    agents.set(event.agent.id, { queue_ids: known?.queue_ids, team: known?.team, ...event.agent });
    renderAgents();
  }
}

async function load() {
  const board = await getJson(`/api/v1/tenants/${encodeURIComponent(tenant)}/reports/wallboard`);
  skew = board.at - Date.now() / 1000;
  for (const a of board.agents) agents.set(a.id, a);
  thresholds.clear();
  for (const [id, t] of Object.entries(board.thresholds || {})) thresholds.set(id, t);
  const picked = thresholdQueue.value;
  thresholdQueue.replaceChildren(...board.queues.map((/** @type {QueueStats} */ q) => new Option(q.name, q.id)));
  if (picked) thresholdQueue.value = picked;
  fillThresholdForm();
  fillSelect(queueFilter, board.queues.map((/** @type {QueueStats} */ q) => [q.id, q.name]));
  fillSelect(teamFilter, board.teams.map((/** @type {string} */ t) => [t, t]));
  applyQueueStats(board.queues, board.at);
  renderAgents();
}

async function connect() {
  /** @type {any[] | null} */
  let early = [];
  try {
    const ticket = await getJson(`/api/v1/realtime/tickets?tenant_id=${encodeURIComponent(tenant)}`, { method: "POST" });
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/realtime?ticket=${encodeURIComponent(ticket.ticket)}&view=tenant`);
    let heartbeat = 0;
    socket.addEventListener("message", (message) => {
      const frame = JSON.parse(String(message.data));
      if (frame.type === "init") {
        connection.textContent = "Live";
        heartbeat = window.setInterval(() => socket.send(JSON.stringify({ id: 0, type: "ping" })), frame.heartbeat_seconds * 500);
      } else if (frame.type === "event") {
        if (early) early.push(frame.event);
        else applyEvent(frame.event);
      }
    });
    socket.addEventListener("close", () => {
      window.clearInterval(heartbeat);
      connection.textContent = "Reconnecting…";
      window.setTimeout(() => void start(), 2000);
    });
    await load(); // after subscribing, so no change falls between the two; figures carry their time
    const buffered = early;
    early = null;
    for (const event of buffered) applyEvent(event);
  } catch (error) {
    connection.textContent = `Not connected: ${error instanceof Error ? error.message : String(error)}`;
    window.setTimeout(() => void start(), 5000);
  }
}

async function start() {
  await connect();
}

// ------------------------------------------------------------------------------------------------ thresholds

const thresholdForm = /** @type {HTMLFormElement} */ (document.getElementById("thresholds-form"));
const thresholdQueue = /** @type {HTMLSelectElement} */ (document.getElementById("threshold-queue"));
const thresholdMessage = /** @type {HTMLElement} */ (document.getElementById("thresholds-message"));

/** @param {string} name */
function thresholdInput(name) {
  return /** @type {HTMLInputElement} */ (thresholdForm.elements.namedItem(name));
}

function fillThresholdForm() {
  const t = thresholds.get(thresholdQueue.value);
  for (const name of THRESHOLD_FIELDS) {
    const value = t ? t[name] : null;
    thresholdInput(name).value = value === null || value === undefined ? "" : String(value);
  }
}

thresholdQueue.addEventListener("change", () => {
  thresholdMessage.textContent = "";
  fillThresholdForm();
});

thresholdForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const queueId = thresholdQueue.value;
  /** @type {Record<string, number | null>} */
  const body = {};
  for (const name of THRESHOLD_FIELDS) {
    const text = thresholdInput(name).value.trim();
    body[name] = text === "" ? null : Number(text);
  }
  thresholdMessage.textContent = "Saving…";
  for (const name of THRESHOLD_FIELDS) thresholdInput(name).removeAttribute("aria-invalid");
  try {
    const saved = await getJson(
      `/api/v1/tenants/${encodeURIComponent(tenant)}/reports/thresholds/${encodeURIComponent(queueId)}`,
      { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) },
    );
    thresholds.set(queueId, saved);
    thresholdMessage.textContent = `Saved for ${thresholdQueue.selectedOptions[0]?.text ?? queueId}.`;
    renderQueues();
  } catch (error) {
    thresholdMessage.textContent = `Not saved: ${error instanceof Error ? error.message : String(error)}`;
    const field = error && typeof error === "object" && "field" in error ? String(error.field) : "";
    if ((/** @type {string[]} */ (THRESHOLD_FIELDS)).includes(field)) {
      thresholdInput(field).setAttribute("aria-invalid", "true");
      thresholdInput(field).focus();
    }
  }
});

// ----------------------------------------------------------------------------------------------- full screen

const fullscreenButton = /** @type {HTMLButtonElement} */ (document.getElementById("fullscreen"));
fullscreenButton.addEventListener("click", () => {
  if (document.fullscreenElement) void document.exitFullscreen();
  else root.requestFullscreen().catch((error) => (connection.textContent = `Full screen refused: ${error.message}`));
});
document.addEventListener("fullscreenchange", () => {
  const on = document.fullscreenElement === root;
  fullscreenButton.textContent = on ? "Leave full screen" : "Full screen";
  fullscreenButton.setAttribute("aria-pressed", String(on));
});

queueFilter.addEventListener("change", () => {
  renderQueues();
  renderAgents();
});
teamFilter.addEventListener("change", renderAgents);
window.setInterval(tick, 1000);
window.setInterval(() => void load().catch(() => undefined), 60_000); // a new day resets the counters
void start();
