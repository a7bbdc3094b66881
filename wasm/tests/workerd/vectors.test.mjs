// The conformance matrix, workerd column: every vector in tests/vectors/ played inside real
// workerd (Miniflare from Node) through the wasm-bindgen build, via `call` and via the typed
// function of its op (both handleWebhook, with WebCrypto, and handleWebhookSync for `webhook`).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { check, loadVectors } from "../vectors.mjs";
import { startTestWorker } from "./miniflare.mjs";

const vectors = loadVectors();
const areas = [...new Set(vectors.map((v) => v.area))];
let mf;

before(async () => {
  mf = startTestWorker();
  await mf.ready;
});
after(async () => {
  await mf?.dispose();
});

test("the corpus is not empty", () => {
  assert.ok(vectors.length > 0, "no vectors found");
});

for (const area of areas) {
  test(`${area} vectors in workerd`, async (t) => {
    for (const v of vectors.filter((x) => x.area === area)) {
      await t.test(v.path, async () => {
        const res = await mf.dispatchFetch(
          `http://localhost/call?op=${encodeURIComponent(v.doc.op)}`,
          { method: "POST", body: JSON.stringify(v.doc.input) },
        );
        assert.equal(res.status, 200, `${v.path}: worker answered ${res.status}`);
        const { envelope, typed } = await res.json();
        const viaCall = check(v, JSON.parse(envelope));
        assert.ok(viaCall === null, `call() in workerd: ${viaCall}`);
        for (const [variant, result] of Object.entries(typed)) {
          if (result === null) continue;
          assert.ok(!("thrown" in result), `${v.path}: typed function (${variant}) threw ${result.thrown}`);
          const viaTyped = check(v, result);
          assert.ok(viaTyped === null, `typed function (${variant}) in workerd: ${viaTyped}`);
        }
      });
    }
  });
}
