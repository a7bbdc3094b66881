// The conformance matrix, Node column: every vector in tests/vectors/ through the wasm-bindgen
// build (wasm/pkg, made by scripts/build-js.sh), twice: through `call` (the raw wire envelope,
// byte for byte what every runtime returns) and through the typed function for its op (for
// `webhook` both of them: handleWebhook, which checks ECDSA with WebCrypto, and
// handleWebhookSync).

import assert from "node:assert/strict";
import { test } from "node:test";

import * as api from "../../pkg/node.js";
import { check, loadVectors, typedCall, typedVariants } from "../vectors.mjs";

const vectors = loadVectors();
const areas = [...new Set(vectors.map((v) => v.area))];

test("the corpus is not empty", () => {
  assert.ok(vectors.length > 0, "no vectors found");
});

for (const area of areas) {
  test(`${area} vectors`, async (t) => {
    for (const v of vectors.filter((x) => x.area === area)) {
      await t.test(v.path, async () => {
        const envelope = JSON.parse(api.call(v.doc.op, JSON.stringify(v.doc.input)));
        const viaCall = check(v, envelope);
        assert.ok(viaCall === null, `call(): ${viaCall}`);
        for (const variant of typedVariants(v.doc.op)) {
          const typed = await typedCall(api, v.doc.op, v.doc.input, variant);
          if (typed !== null) {
            const viaTyped = check(v, typed);
            assert.ok(viaTyped === null, `typed function (${variant}): ${viaTyped}`);
          }
        }
      });
    }
  });
}
