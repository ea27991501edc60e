// The console's pure state rules (docs/events.md), timers and labels.
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  activeInteractions,
  applyEvent,
  colleagues,
  customerLabel,
  formatDuration,
  liveOffers,
  secondsLeft,
} from "../../src/callbridge/web/static/console/state.js";
import { statusChoice } from "../../src/callbridge/web/static/console/app.js";
import { mergeMessages } from "../../src/callbridge/web/static/console/chat.js";
import { nameProblem, formatBytes, playLength } from "../../src/callbridge/web/static/console/greetings.js";
import { backoff } from "../../src/callbridge/web/static/console/connection.js";

/** @param {Partial<import('../../src/callbridge/web/static/console/state.js').InteractionView>} fields */
function interaction(fields) {
  return {
    id: "i1", channel: "phone", direction: "inbound", state: "offered", queue_id: "sales", from_address: "+15550100",
    to_address: "", case_number: "", data: {}, priority: 0, agent_id: "me", offer_id: "o1", offer_deadline: 120,
    created_at: 90, enqueued_at: 95, connected_at: null, ended_at: null, wrap_up_deadline: null, completed_at: null,
    disposition: "", end_reason: "", ...fields,
  };
}

/** @returns {import('../../src/callbridge/web/static/console/state.js').Snapshot} */
function snapshot() {
  return {
    tenant_id: "acme",
    me: "me",
    agents: { me: { id: "me", display_name: "Me", status: "available", reason: "", since: 1, interaction_ids: [], presence: "available", presence_reason: "" } },
    queues: { sales: { id: "sales", name: "Sales", channel: "phone", waiting: 0, oldest_enqueued_at: null, ready_agents: 1, dispositions: [], disposition_required: false } },
    interactions: {},
  };
}

test("interaction.changed keeps mine while live and drops it when final or someone else's", () => {
  const start = snapshot();
  const offered = applyEvent(start, { type: "interaction.changed", interaction: interaction({}) });
  assert.deepEqual(Object.keys(offered.interactions), ["i1"]);
  assert.deepEqual(start.interactions, {}, "the old snapshot is left as it was");
  const elsewhere = applyEvent(offered, { type: "interaction.changed", interaction: interaction({ state: "offered", agent_id: "bob" }) });
  assert.deepEqual(elsewhere.interactions, {});
  const done = applyEvent(offered, { type: "interaction.changed", interaction: interaction({ state: "completed" }) });
  assert.deepEqual(done.interactions, {});
});

test("queue.changed updates only my queues; status and digests replace agents", () => {
  let s = snapshot();
  s = applyEvent(s, { type: "queue.changed", queue: { id: "other", name: "Other", channel: "chat", waiting: 3, oldest_enqueued_at: 1, ready_agents: 0, dispositions: [], disposition_required: false } });
  assert.deepEqual(Object.keys(s.queues), ["sales"]);
  s = applyEvent(s, { type: "queue.changed", queue: { ...s.queues.sales, waiting: 2 } });
  assert.equal(s.queues.sales.waiting, 2);
  s = applyEvent(s, { type: "agent.status_changed", agent: { ...s.agents.me, status: "break", reason: "missed_offer" } });
  assert.equal(s.agents.me.status, "break");
  s = applyEvent(s, { type: "agents.changed", agents: [{ id: "ann", display_name: "Ann", status: "available", reason: "", since: 1, interaction_ids: [], presence: "available", presence_reason: "" }] });
  assert.deepEqual(colleagues(s).map((a) => a.id), ["ann"]);
  assert.equal(applyEvent(s, { type: "chat.message", interaction_id: "i1", id: "i1:1", seq: 1, sender: "customer", agent_id: null, text: "hi", sent_at: 1 }), s, "events outside the snapshot change nothing");
});

test("an offer is shown only before its deadline, soonest first", () => {
  let s = snapshot();
  s = applyEvent(s, { type: "interaction.changed", interaction: interaction({ id: "a", offer_deadline: 130 }) });
  s = applyEvent(s, { type: "interaction.changed", interaction: interaction({ id: "b", offer_deadline: 110 }) });
  assert.deepEqual(liveOffers(s, 100).map((o) => o.id), ["b", "a"]);
  assert.deepEqual(liveOffers(s, 115).map((o) => o.id), ["a"]);
  assert.deepEqual(liveOffers(s, 130), []);
  s = applyEvent(s, { type: "interaction.changed", interaction: interaction({ id: "c", state: "connected", connected_at: 99 }) });
  assert.deepEqual(activeInteractions(s).map((i) => i.id), ["c"]);
});

test("durations and countdowns", () => {
  assert.equal(formatDuration(0), "0:00");
  assert.equal(formatDuration(7.9), "0:07");
  assert.equal(formatDuration(754), "12:34");
  assert.equal(formatDuration(3723), "1:02:03");
  assert.equal(formatDuration(-5), "0:00");
  assert.equal(secondsLeft(110, 100.2), 10);
  assert.equal(secondsLeft(110, 120), 0);
  assert.equal(secondsLeft(null, 1), 0);
});

test("labels: who the customer is, and the status control's choice", () => {
  assert.equal(customerLabel(interaction({ data: { name: "Ada" }, from_address: "ada@example.com" })), "Ada (ada@example.com)");
  assert.equal(customerLabel(interaction({ direction: "outbound", to_address: "+1555" })), "+1555");
  assert.equal(customerLabel(interaction({ from_address: "" })), "Unknown caller");
  assert.equal(customerLabel(interaction({ direction: "outbound", to_address: "+1555", data: { "crm.record_name": "Grace Hopper" } })), "Grace Hopper (+1555)");
  assert.equal(statusChoice("break", "Lunch"), "break:Lunch");
  assert.equal(statusChoice("break", "missed_offer"), "break:");
  assert.equal(statusChoice("working_offline", ""), "working_offline");
  assert.equal(statusChoice("busy", ""), "");
});

test("chat transcripts merge by seq; greeting names; sizes; reconnection back-off", () => {
  const transcript = new Map();
  const first = mergeMessages(transcript, [{ seq: 2, sender: "customer", text: "b", sent_at: 2 }, { seq: 1, sender: "agent", text: "a", sent_at: 1 }]);
  assert.deepEqual(first.map((m) => m.seq), [1, 2]);
  assert.deepEqual(mergeMessages(transcript, [{ seq: 2, sender: "customer", text: "b", sent_at: 2 }]), []);
  assert.equal(nameProblem("  "), "Give the message a name.");
  assert.match(nameProblem("x".repeat(81)), /at most 80/);
  assert.equal(nameProblem("Welcome"), "");
  assert.equal(formatBytes(2 * 1024 * 1024), "2.0 MB");
  assert.equal(playLength(3.46), "0:03");
  assert.equal(playLength(0.3), "0:01");
  assert.equal(playLength(75), "1:15");
  assert.equal(playLength(null), "");
  assert.equal(backoff(0, 0.5), 500);
  assert.equal(backoff(10, 0.5), 10000);
  assert.ok(backoff(3, 0) >= 3000 && backoff(3, 1) <= 5000);
});
