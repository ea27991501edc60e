/// <reference path="./uplot-global.d.ts" />
// Historical reports: queue performance (charts by hour and by day), agent activity, interaction
// search and an agent's timeline, in the tenant's time zone; every report downloads as CSV.

import { reasonName, statusName } from "../console/state.js";
import { duration, el, getJson, percent } from "./common.js";

const root = /** @type {HTMLElement} */ (document.getElementById("reports"));
const tenant = root.dataset.tenant || "";
const form = /** @type {HTMLFormElement} */ (document.getElementById("filters"));
const kind = /** @type {HTMLSelectElement} */ (document.getElementById("kind"));
const csv = /** @type {HTMLAnchorElement} */ (document.getElementById("csv"));
const result = /** @type {HTMLElement} */ (document.getElementById("result"));
const message = /** @type {HTMLElement} */ (document.getElementById("message"));
const charts = /** @type {HTMLElement} */ (document.getElementById("charts"));
const csvHour = /** @type {HTMLAnchorElement} */ (document.getElementById("csv-hour"));
const csvDay = /** @type {HTMLAnchorElement} */ (document.getElementById("csv-day"));
const base = `/api/v1/tenants/${encodeURIComponent(tenant)}/reports`;
/** @type {Map<string, string>} queue id -> name */
const queueNames = new Map();
/** @type {Map<string, string>} agent id -> name */
const agentNames = new Map();

/** @type {Record<string, string[]>} the form fields each report uses */
const FIELDS = {
  queues: ["from", "to", "queue_id"],
  agents: ["from", "to", "team"],
  interactions: ["from", "to", "queue_id", "agent_id", "caller", "channel", "disposition"],
  timeline: ["from", "agent_id"],
};

/** @param {string} name */
function field(name) {
  return /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
}

function showFields() {
  for (const box of form.querySelectorAll("[data-for]")) {
    const wanted = (/** @type {HTMLElement} */ (box).dataset.for || "").split(" ");
    /** @type {HTMLElement} */ (box).hidden = !wanted.includes(kind.value);
  }
  field("to").closest("div")?.toggleAttribute("hidden", kind.value === "timeline");
}

/** @param {boolean} forCsv @param {string} [group] the CSV's rows: total, day or hour */
function url(forCsv, group) {
  const params = new URLSearchParams();
  for (const name of FIELDS[kind.value]) {
    const value = field(name).value.trim();
    if (value) params.set(kind.value === "timeline" && name === "from" ? "day" : name, value);
  }
  if (forCsv) params.set("format", "csv");
  if (group) params.set("group", group);
  if (kind.value === "timeline") return `${base}/agents/${encodeURIComponent(field("agent_id").value.trim())}/timeline?${params}`;
  return `${base}/${kind.value}?${params}`;
}

/** @param {string[]} headers @param {(string | Node)[][]} rows */
function table(headers, rows) {
  return el("table", {}, [
    el("thead", {}, [el("tr", {}, headers.map((h) => el("th", {}, [h])))]),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, [c]))))),
  ]);
}

/**
 * Draws one chart over the whole period asked for (`range`, epoch seconds), every point of it, with
 * times in the tenant's zone; the container records what it drew (data-x-min, data-x-max, data-points).
 * @param {HTMLElement} target
 * @param {string} title
 * @param {number[]} xs epoch seconds
 * @param {{label: string, values: (number | null)[], stroke: string, scale?: string}[]} series
 * @param {[number, number]} range
 * @param {string} timeZone
 */
function chart(target, title, xs, series, range, timeZone) {
  target.replaceChildren();
  if (typeof uPlot === "undefined" || xs.length === 0) return;
  /** @param {InstanceType<typeof uPlot>} u */
  const drawn = (u) => {
    target.dataset.xMin = String(u.scales.x.min);
    target.dataset.xMax = String(u.scales.x.max);
    target.dataset.points = String(xs.length);
  };
  /** @type {import("uplot").Options} */
  const options = {
    title,
    hooks: { ready: [drawn], setScale: [drawn] },
    width: Math.max(320, target.clientWidth || 900),
    height: 240,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), timeZone),
    series: [
      {},
      ...series.map((s) => ({ label: s.label, stroke: s.stroke, scale: s.scale || "count", width: 2, points: { show: true, size: 4 } })),
    ],
    scales: { x: { time: true, range: () => range }, count: { range: (_u, _min, max) => [0, Math.max(1, max)] }, ratio: { range: [0, 1] } },
    axes: [{}, { scale: "count", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000] }, { scale: "ratio", side: 1, grid: { show: false }, values: (_u, ticks) => ticks.map((t) => `${Math.round(t * 100)} %`) }],
  };
  /** @type {import("uplot").AlignedData} */
  const data = [xs, ...series.map((s) => s.values)];
  new uPlot(options, data, target);
}

/** @param {any[]} buckets */
function queueSeries(buckets) {
  return [
    { label: "Offered", values: buckets.map((b) => b.offered), stroke: "#2f6fde" },
    { label: "Answered", values: buckets.map((b) => b.answered), stroke: "#1f8a4c" },
    { label: "Abandoned", values: buckets.map((b) => b.abandoned), stroke: "#c53030" },
    { label: "Service level", values: buckets.map((b) => b.service_level), stroke: "#b7791f", scale: "ratio" },
  ];
}

/** @param {any} report */
function showQueues(report) {
  charts.hidden = false;
  /** @type {HTMLElement} */ (document.getElementById("chart-title")).textContent = `All queues (${report.time_zone})`;
  const range = /** @type {[number, number]} */ ([report.start, report.end]);
  const hours = report.all.by_hour;
  const hourChart = /** @type {HTMLElement} */ (document.getElementById("chart-hour"));
  chart(hourChart, "By hour", hours.map((/** @type {any} */ h) => h.start), queueSeries(hours), range, report.time_zone);
  // a day's point sits in the middle of the day
  const days = report.all.by_day;
  const middles = days.map((/** @type {any} */ d, /** @type {number} */ n) => (d.start + (days[n + 1]?.start ?? report.end)) / 2);
  const dayChart = /** @type {HTMLElement} */ (document.getElementById("chart-day"));
  chart(dayChart, "By day", middles, queueSeries(days), range, report.time_zone);
  csvHour.href = url(true, "hour");
  csvDay.href = url(true, "day");
  const headers = ["Queue", "Offered", "Answered", "Abandoned", "Avg wait", "Longest wait", "Service level", "SL with abandoned"];
  /** @param {any} q @param {string} name */
  const row = (q, name) => [
    name, String(q.offered), String(q.answered), String(q.abandoned), duration(q.average_wait_seconds),
    duration(q.longest_wait_seconds), percent(q.service_level), percent(q.service_level_with_abandoned),
  ];
  const rows = report.queues.map((/** @type {any} */ q) => row(q, `${q.name} (${q.service_level_seconds} s)`));
  rows.push(row(report.all, "All queues"));
  const perDay = report.all.by_day.map((/** @type {any} */ d) => row(d, d.day));
  result.replaceChildren(el("h2", {}, ["By queue"]), table(headers, rows), el("h2", {}, ["By day"]), table(["Day", ...headers.slice(1)], perDay));
}

/** @param {any} report */
function showAgents(report) {
  charts.hidden = true;
  const headers = [
    "Agent", "Team", "First sign-in", "Last sign-out", "Available", "Busy", "Wrap-up", "Break", "Offline",
    "Offers", "Accepted", "Missed", "Phone", "Chat", "Voicemail", "Avg handle", "Avg wrap-up",
  ];
  const time = new Intl.DateTimeFormat(undefined, { timeZone: report.time_zone, dateStyle: "short", timeStyle: "short" });
  const at = (/** @type {number | null} */ t) => (t === null ? "–" : time.format(new Date(t * 1000)));
  result.replaceChildren(
    table(
      headers,
      report.agents.map((/** @type {any} */ a) => [
        a.display_name, a.team, at(a.first_sign_in_at), at(a.last_sign_out_at), duration(a.seconds.available),
        duration(a.seconds.busy), duration(a.seconds.wrap_up), duration(a.seconds.break), duration(a.seconds.working_offline),
        String(a.offers), String(a.accepted), String(a.missed), String(a.handled.phone), String(a.handled.chat),
        String(a.handled.voicemail), duration(a.average_handle_seconds), duration(a.average_wrap_up_seconds),
      ]),
    ),
  );
}

/** @param {any} report */
function showInteractions(report) {
  charts.hidden = true;
  const time = new Intl.DateTimeFormat(undefined, { timeZone: report.time_zone, dateStyle: "short", timeStyle: "medium" });
  const headers = [`Created (${report.time_zone})`, "Channel", "Queue", "Caller", "Called", "Agent", "State", "Disposition"];
  result.replaceChildren(
    table(
      headers,
      report.interactions.map((/** @type {any} */ i) => [
        time.format(new Date(i.created_at * 1000)), i.channel, queueNames.get(i.queue_id) ?? i.queue_id ?? "", i.from_address,
        i.to_address || "", agentNames.get(i.agent_id) ?? i.agent_id ?? "", i.state.replace("_", " "), i.disposition,
      ]),
    ),
  );
}

/** @param {any} report */
function showTimeline(report) {
  charts.hidden = true;
  const span = report.end - report.start;
  const bar = el("div", { class: "timeline", role: "img", "aria-label": `statuses of ${report.agent_id} on ${report.day}` });
  const time = new Intl.DateTimeFormat(undefined, { timeZone: report.time_zone, timeStyle: "short" });
  const at = (/** @type {number} */ t) => time.format(new Date(t * 1000));
  for (const s of report.statuses) {
    const left = ((s.from - report.start) / span) * 100;
    const width = ((s.to - s.from) / span) * 100;
    const words = `${statusName(s.status)}${s.reason ? ` (${reasonName(s.reason)})` : ""}`;
    const piece = el("span", { class: s.status, title: `${words} ${at(s.from)}–${at(s.to)}` });
    piece.style.left = `${left}%`;
    piece.style.width = `${width}%`;
    bar.append(piece);
  }
  const legend = el("div", { class: "legend" }, ["available", "busy", "wrap_up", "break", "working_offline"].map(
    (s) => el("span", {}, [el("i", { class: s }), statusName(s)]),
  ));
  result.replaceChildren(
    el("h2", {}, [`${agentNames.get(report.agent_id) ?? report.agent_id}, ${report.day} (${report.time_zone})`]),
    bar,
    table(
      ["From", "To", "Status", "Reason", "Time"],
      report.statuses.map((/** @type {any} */ s) => [at(s.from), at(s.to), statusName(s.status), reasonName(s.reason), duration(s.seconds)]),
    ),
    el("h2", {}, ["Interactions"]),
    table(
      ["Interaction", "Channel", "Caller", "Events", "Disposition"],
      report.interactions.map((/** @type {any} */ i) => [
        i.interaction_id, i.channel || "", i.from_address || "",
        i.events.map((/** @type {any} */ e) => `${at(e.at)} ${e.type}${e.outcome ? ` (${e.outcome})` : ""}`).join(", "), i.disposition || "",
      ]),
    ),
  );
}

async function show() {
  message.textContent = "";
  message.className = "";
  csv.href = url(true);
  csv.hidden = kind.value === "timeline";
  if (kind.value === "timeline" && !field("agent_id").value) {
    message.className = "notice";
    message.textContent = "Choose the agent whose day to show.";
    result.replaceChildren();
    return;
  }
  try {
    const report = await getJson(url(false));
    if (kind.value === "queues") showQueues(report);
    else if (kind.value === "agents") showAgents(report);
    else if (kind.value === "interactions") showInteractions(report);
    else showTimeline(report);
  } catch (error) {
    message.className = "notice error";
    message.textContent = error instanceof Error ? error.message : String(error);
  }
}

/** @param {string} name @param {[string, string][]} options value, label */
function fillPicker(name, options) {
  const select = /** @type {HTMLSelectElement} */ (form.elements.namedItem(name));
  for (const [value, label] of options) select.append(new Option(label, value));
}

/** The queues, agents and teams the pickers offer, by name. */
async function loadPickers() {
  const board = await getJson(`${base}/wallboard`);
  for (const q of board.queues) queueNames.set(q.id, q.name);
  for (const a of board.agents) agentNames.set(a.id, a.display_name);
  const byName = (/** @type {[string, string]} */ a, /** @type {[string, string]} */ b) => a[1].localeCompare(b[1]);
  fillPicker("queue_id", [...queueNames].sort(byName));
  fillPicker("agent_id", [...agentNames].sort(byName));
  fillPicker("team", board.teams.map((/** @type {string} */ t) => [t, t]));
}

async function init() {
  try {
    await loadPickers();
  } catch (error) {
    message.className = "notice error";
    message.textContent = `The queue and agent lists could not be loaded: ${error instanceof Error ? error.message : String(error)}`;
  }
  const params = new URLSearchParams(location.search);
  const today = new Date().toLocaleDateString("en-CA"); // YYYY-MM-DD, the browser's day
  if (params.get("kind")) kind.value = params.get("kind") || "queues";
  for (const name of ["from", "to", "queue_id", "team", "agent_id", "caller", "disposition"]) {
    const value = params.get(name);
    if (value !== null) field(name).value = value;
  }
  if (!field("from").value) field("from").value = today;
  if (!field("to").value) field("to").value = field("from").value;
  showFields();
  kind.addEventListener("change", showFields);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void show();
  });
  if (kind.value !== "timeline" || field("agent_id").value) void show();
}

void init();
