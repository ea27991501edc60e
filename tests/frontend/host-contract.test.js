// The host contract module is importable from plain Node (no DOM needed).
import { test } from "node:test";
import assert from "node:assert/strict";

test("host contract module loads", async () => {
  const module = await import("../../src/callbridge/web/static/console/hosts/host.js");
  assert.deepEqual(Object.keys(module), []);
});
