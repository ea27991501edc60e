// Choosing the CRM host module, and what the built-in and stand-alone hosts send.
import { test } from "node:test";
import assert from "node:assert/strict";

import { candidateOrigins, chooseHost } from "../../src/callbridge/web/static/console/hosts/select.js";
import { screenPopParams } from "../../src/callbridge/web/static/console/hosts/builtin.js";
import { createHost as createStandalone, popWindowArguments } from "../../src/callbridge/web/static/console/hosts/standalone.js";

test("the host follows where the console runs", () => {
  const base = { framed: false, hasOpener: false };
  assert.equal(chooseHost({ ...base, search: "?tenant=acme" }), "standalone");
  assert.equal(chooseHost({ ...base, hasOpener: true, search: "?tenant=acme" }), "builtin");
  assert.equal(chooseHost({ ...base, framed: true, search: "?tenant=acme" }), "builtin");
  assert.equal(chooseHost({ ...base, framed: true, search: "?tenant=acme&sfdcIframeOrigin=https://x.lightning.force.com&mode=Lightning" }), "lightning");
  assert.equal(chooseHost({ ...base, framed: true, search: "?tenant=acme&sfdcIFrameOrigin=https://na1.salesforce.com&nonce=1" }), "classic");
  assert.equal(chooseHost({ ...base, framed: true, search: "?sfdcIFrameHost=web&sfdcIFrameOrigin=https://x.my.salesforce.com" }), "classic");
});

test("only allowed origins are ever spoken to", () => {
  const allowed = ["http://localhost:8100", "https://crm.example", "javascript:alert(1)"];
  assert.deepEqual(candidateOrigins(allowed, "http://localhost:8100"), ["http://localhost:8100"]);
  assert.deepEqual(candidateOrigins(allowed, "https://evil.example"), ["http://localhost:8100", "https://crm.example"]);
  assert.deepEqual(candidateOrigins(allowed), ["http://localhost:8100", "https://crm.example"]);
});

test("pop targets become CTI screenPop params", () => {
  const url = "http://crm/records/contact/12";
  assert.deepEqual(screenPopParams({ kind: "record", url, objectType: "Contact", recordId: "12" }), { type: "record", objectType: "contact", recordId: 12 });
  assert.deepEqual(screenPopParams({ kind: "search", url, query: "+1555" }), { type: "search", query: "+1555" });
  assert.deepEqual(
    screenPopParams({ kind: "new_record", url, objectType: "contact", prefill: { phone: "+1555" } }, { width: 800, height: 600, reuse: true }),
    { type: "newRecord", objectType: "contact", defaults: { phone: "+1555" }, window: { target: "reuseWindow", width: 800, height: 600 } },
  );
  assert.deepEqual(screenPopParams({ kind: "url", url }, { width: 0, height: 0, reuse: false }), { type: "url", url, window: { target: "newWindow" } });
});

test("stand-alone pops open a sized window, reused or new", async () => {
  assert.deepEqual(popWindowArguments({ width: 900, height: 700, reuse: true }), { name: "callbridge-screenpop", features: "popup,width=900,height=700" });
  assert.deepEqual(popWindowArguments({ width: 0, height: 0, reuse: false }), { name: "_blank", features: "" });
  /** @type {string[][]} */
  const opened = [];
  const host = createStandalone({ allowedOrigins: [], open: (url, name, features) => (opened.push([url, name, features]), /** @type {any} */ ({})) });
  await host.screenPop({ kind: "record", url: "https://crm.example/r/1" }, { width: 500, height: 400, reuse: false });
  assert.deepEqual(opened, [["https://crm.example/r/1", "_blank", "popup,width=500,height=400"]]);
  await assert.rejects(host.screenPop({ kind: "url", url: "javascript:alert(1)" }, { width: 0, height: 0, reuse: false }));
  const blocked = createStandalone({ allowedOrigins: [], open: () => null });
  await assert.rejects(blocked.screenPop({ kind: "url", url: "https://crm.example/" }, { width: 0, height: 0, reuse: false }), /blocked/);
});
