// handleWebhook checks SendGrid's ECDSA signatures with workerd's WebCrypto, handleWebhookSync
// in wasm: inside real workerd, the answers must be the same, valid or forged, stale or fresh.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  agreementCases,
  assertLoopsCase,
  headerShapeCases,
  loopsCases,
  lyingCase,
  signatureVectorCases,
} from "../agree-cases.mjs";
import { startTestWorker } from "./miniflare.mjs";

let mf;
before(async () => {
  mf = startTestWorker();
  await mf.ready;
});
after(async () => {
  await mf?.dispose();
});

for (const c of agreementCases()) {
  test(`WebCrypto and wasm agree in workerd: ${c.name}`, async () => {
    const res = await mf.dispatchFetch("http://localhost/agree", { method: "POST", body: JSON.stringify(c) });
    assert.equal(res.status, 200, await res.clone().text());
    const played = await res.json();
    assert.ok(played.sync.result, `handleWebhookSync threw ${JSON.stringify(played.sync.thrown)}`);
    assert.deepEqual(played.async, played.sync);
    assert.equal(played.sync.result.status, c.status, JSON.stringify(played.sync.result.error));
    assert.equal(played.sync.result.error?.code, c.code);
    assert.equal(played.webcryptoCalls > 0, c.webcrypto, `WebCrypto calls: ${played.webcryptoCalls}`);
  });
}

test("handleWebhook uses WebCrypto's answer in workerd", async () => {
  const res = await mf.dispatchFetch("http://localhost/agree", { method: "POST", body: JSON.stringify(lyingCase()) });
  const played = await res.json();
  assert.equal(played.sync.result.status, 200);
  assert.equal(played.webcryptoCalls, 1);
  assert.equal(played.async.result.status, 401);
  assert.equal(played.async.result.error.code, "signature_mismatch");
});

test("WebCrypto and wasm agree in workerd on every ECDSA and RSA signature vector", async (t) => {
  const cases = signatureVectorCases();
  assert.ok(cases.length > 50, `only ${cases.length} vectors`);
  let viaWebCrypto = 0;
  for (const c of cases) {
    await t.test(c.name, async () => {
      const played = await (await mf.dispatchFetch("http://localhost/agree", { method: "POST", body: JSON.stringify(c) })).json();
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
  test(`Loops with headers as a Headers in workerd: ${c.name}`, async () => {
    const res = await mf.dispatchFetch("http://localhost/agree", { method: "POST", body: JSON.stringify(c) });
    assert.equal(res.status, 200, await res.clone().text());
    assertLoopsCase(await res.json(), c);
  });
}

test("every vector answers alike with its headers as a Headers or as a plain object, in workerd", async () => {
  const cases = headerShapeCases();
  assert.ok(cases.length > 500, `only ${cases.length} vectors`);
  let played = 0;
  // In batches, one request each: workerd's own Headers is the one read.
  for (let i = 0; i < cases.length; i += 100) {
    const batch = cases.slice(i, i + 100);
    const res = await mf.dispatchFetch("http://localhost/headers", { method: "POST", body: JSON.stringify(batch) });
    assert.equal(res.status, 200, await res.clone().text());
    const results = await res.json();
    results.forEach((r, j) => {
      if (r === null) return;
      const name = batch[j].name;
      assert.deepEqual(r.headersSync, r.objectSync, name);
      assert.deepEqual(r.headersAsync, r.objectAsync, name);
      assert.deepEqual(r.headersAsync, r.headersSync, name);
      played++;
    });
  }
  assert.ok(played > 500, `only ${played} vectors played`);
});
