// handleWebhook checks SendGrid's ECDSA signatures with Node's WebCrypto, handleWebhookSync in
// wasm: the answers must be the same, valid or forged, stale or fresh.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as api from "../../pkg/node.js";
import { agreementCases, lyingCase } from "../agree-cases.mjs";
import { playCase } from "../agree.mjs";

for (const c of agreementCases()) {
  test(`WebCrypto and wasm agree in Node: ${c.name}`, async () => {
    const played = await playCase(api, c);
    assert.ok(played.sync.result, `handleWebhookSync threw ${JSON.stringify(played.sync.thrown)}`);
    assert.deepEqual(played.async, played.sync);
    assert.equal(played.sync.result.status, c.status, JSON.stringify(played.sync.result.error));
    assert.equal(played.sync.result.error?.code, c.code);
    assert.equal(played.webcryptoCalls > 0, c.webcrypto, `WebCrypto calls: ${played.webcryptoCalls}`);
  });
}

test("handleWebhook uses WebCrypto's answer in Node", async () => {
  const played = await playCase(api, lyingCase());
  assert.equal(played.sync.result.status, 200);
  assert.equal(played.webcryptoCalls, 1);
  assert.equal(played.async.result.status, 401);
  assert.equal(played.async.result.error.code, "signature_mismatch");
});
