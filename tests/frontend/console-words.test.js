// What a failed console action says to the agent (words.js): never the server's integrator wording.
import { test } from "node:test";
import assert from "node:assert/strict";

import { ApiError } from "../../src/callbridge/web/static/console/api.js";
import { agentMessage } from "../../src/callbridge/web/static/console/words.js";

test("a call that already ended speaks of the caller and what to do next", () => {
  const raw = new ApiError(409, "interaction 'call-1' has already ended (wrap_up)", null, "invalid_transition");
  const said = agentMessage("hang-up", raw);
  assert.equal(said, "The call has already ended. Write your notes and click Complete.");
  assert.doesNotMatch(said, /wrap_up|interaction '/);
  assert.match(agentMessage("transfer", raw), /cannot be transferred/);
  assert.match(agentMessage("accept", new ApiError(404, "interaction 'x' not found", null, "not_found")), /no longer yours/);
});

test("other failures keep a message people can act on", () => {
  assert.match(agentMessage("hold", new TypeError("Failed to fetch")), /could not be reached/);
  assert.match(agentMessage("hold", new ApiError(500, "Internal Server Error", null, "")), /Try again/);
  const pbx = new ApiError(503, "The PBX did not answer: try again", null, "telephony_unavailable");
  assert.equal(agentMessage("hold", pbx), "The PBX did not answer: try again");
});

test("a transfer refused while the call goes on says why, in the server's words", () => {
  const busy = new ApiError(409, "agent 'ben' cannot take a phone interaction now (break)", null, "invalid_state");
  assert.equal(agentMessage("transfer", busy), "agent 'ben' cannot take a phone interaction now (break)");
  assert.equal(agentMessage("consult-complete", busy), "agent 'ben' cannot take a phone interaction now (break)");
  const ended = new ApiError(409, "interaction 'c' has already ended (wrap_up)", null, "invalid_state");
  assert.match(agentMessage("consult", ended), /already ended/);
  assert.doesNotMatch(agentMessage("consult", ended), /wrap_up/);
});
