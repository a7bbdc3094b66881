// The package's handleWebhookSync and handleWebhook read requests on a fast path (options
// cached by their JSON text, headers as one string, results built from a tape) and fall back
// to the general reader in wasm for unusual shapes: every way in gives the wire op's answer.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as api from "../../pkg/node.js";
import * as web from "../../pkg/mailstate.js";
import { jsonEqual, loadVectors } from "../vectors.mjs";

const webhooks = loadVectors().filter((v) => v.doc.op === "webhook");

/** The wire op's output for a request, or its error. */
function wire(input) {
  const envelope = JSON.parse(api.call("webhook", JSON.stringify(input)));
  return envelope.output ?? { error: envelope.error };
}

async function play(fn, input, headers) {
  const { provider, headers: _, body, body_base64, ...options } = input;
  const bytes = body_base64 !== undefined ? Buffer.from(body_base64, "base64") : body;
  try {
    return await fn(provider, { headers, body: bytes }, options);
  } catch (e) {
    const error = { code: e.code, message: e.message };
    if (e.path !== undefined) error.path = e.path;
    if (e.line !== undefined) error.line = e.line;
    return { error };
  }
}

test("webhook vectors give the wire's answer with headers as Headers, Map, pairs or object", async () => {
  assert.ok(webhooks.length > 10, "too few webhook vectors");
  let headerShapes = 0;
  for (const v of webhooks) {
    const input = v.doc.input;
    const plain = input.headers ?? {};
    const expected = wire(input);
    const shapes = { object: plain, pairs: Object.entries(plain), map: new Map(Object.entries(plain)) };
    try {
      shapes.headers = new Headers(plain);
    } catch {
      // A name or value that Fetch's Headers refuses: the other shapes still play.
    }
    for (const [shape, headers] of Object.entries(shapes)) {
      if (shape !== "object" && Object.keys(plain).some((k) => k !== k.toLowerCase())) continue;
      headerShapes++;
      for (const [name, fn] of [["sync", api.handleWebhookSync], ["async", api.handleWebhook]]) {
        const got = await play(fn, input, headers);
        assert.ok(jsonEqual(got, expected), `${v.path} (${name}, headers as ${shape}): ${JSON.stringify(got).slice(0, 400)}`);
      }
    }
  }
  assert.ok(headerShapes > webhooks.length, "no vector played with other header shapes");
});

test("options changed in place are read again", () => {
  const body = JSON.stringify({ event_key: "k1", provider: "ses", type: "complaint", provider_type: "Complaint", recipient: "ann@example.com" });
  const options = { verify: null, seen: [] };
  const first = api.handleWebhookSync("ndjson", { body }, options);
  assert.equal(first.routes.suppress.length, 1);
  options.seen.push("k1");
  const second = api.handleWebhookSync("ndjson", { body }, options);
  assert.equal(second.routes.suppress.length, 0);
  assert.equal(second.routes.drop.length, 1);
});

test("requests of unusual shapes get the same answers and errors as the wasm export", async () => {
  const body = JSON.stringify({ event_key: "k1", provider: "ses", type: "open", provider_type: "Open", tags: ["a"], metadata: { __proto__: "x", n: "1" } });
  const cases = [
    [{ headers: { "x-count": 3 }, body }, { verify: null }],
    [{ headers: [["a", "b\u0000c"]], body }, { verify: null }],
    [{ body: 42 }, { verify: null }],
    [{ body }, { verify: true }],
    [{ body }, undefined],
    [{ body: new TextEncoder().encode(body).buffer }, { verify: null, policy: { automated: "drop" } }],
  ];
  for (const [request, options] of cases) {
    const run = (fn) => {
      try {
        return { result: fn("ndjson", request, options) };
      } catch (e) {
        return { thrown: { name: e.name, code: e.code, message: e.message, path: e.path } };
      }
    };
    const expected = run(web.handleWebhookSync);
    assert.deepEqual(run(api.handleWebhookSync), expected, JSON.stringify(request));
    const async = await api.handleWebhook("ndjson", request, options).then((result) => ({ result }), (e) => ({ thrown: { name: e.name, code: e.code, message: e.message, path: e.path } }));
    assert.deepEqual(async, expected, JSON.stringify(request));
  }
});
