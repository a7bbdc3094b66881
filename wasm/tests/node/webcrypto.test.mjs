// handleWebhook checks SendGrid's ECDSA signatures with Node's WebCrypto, handleWebhookSync in
// wasm: the answers must be the same, valid or forged, stale or fresh.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as api from "../../pkg/node.js";
import {
  agreementCases,
  assertLoopsCase,
  headerShapeCases,
  loopsCases,
  lyingCase,
  signatureVectorCases,
} from "../agree-cases.mjs";
import { playCase, playHeaderShapes } from "../agree.mjs";

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

test("WebCrypto and wasm agree in Node on every ECDSA and RSA signature vector", async (t) => {
  const cases = signatureVectorCases();
  assert.ok(cases.length > 50, `only ${cases.length} vectors`);
  let viaWebCrypto = 0;
  for (const c of cases) {
    await t.test(c.name, async () => {
      const played = await playCase(api, c);
      assert.deepEqual(played.async, played.sync);
      assert.equal(played.sync.result?.verified ?? false, c.verifies, JSON.stringify(played.sync));
      if (played.webcryptoCalls > 0) viaWebCrypto++;
      // Every accepted signature was checked by WebCrypto, not by the wasm fallback.
      if (c.verifies) assert.ok(played.webcryptoCalls > 0, "WebCrypto did not run");
    });
  }
  assert.ok(viaWebCrypto > 20, `WebCrypto ran for ${viaWebCrypto} vectors`);
});

for (const c of loopsCases()) {
  test(`Loops with headers as a Headers in Node: ${c.name}`, async () => {
    assertLoopsCase(await playCase(api, c), c);
  });
}

test("every vector answers alike with its headers as a Headers or as a plain object, in Node", async () => {
  const cases = headerShapeCases();
  assert.ok(cases.length > 500, `only ${cases.length} vectors`);
  let played = 0;
  for (const c of cases) {
    const r = await playHeaderShapes(api, c);
    if (r === null) continue;
    assert.deepEqual(r.headersSync, r.objectSync, c.name);
    assert.deepEqual(r.headersAsync, r.objectAsync, c.name);
    assert.deepEqual(r.headersAsync, r.headersSync, c.name);
    played++;
  }
  assert.ok(played > 500, `only ${played} vectors played`);
});
