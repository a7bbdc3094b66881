// Where handleWebhook's time goes, in Node (the same V8 engine as workerd, a few versions
// older): the SendGrid batch and the Loops requests of webhook.mjs, run in a loop for six
// seconds under the CPU profiler, then the functions by share of samples (self and inclusive).
//
//   node wasm/bench/profile.mjs sendgrid|loops [pkg dir]
//
// For wasm function names, profile a build that keeps them (wasm-opt -g, not --strip-debug):
//   wasm-bindgen --target web --out-dir /tmp/pkgprof --out-name mailstate \
//     $CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm/mailstate_wasm.wasm
//   node wasm/node_modules/binaryen/bin/wasm-opt -Os -g --enable-bulk-memory \
//     --enable-nontrapping-float-to-int --enable-sign-ext --enable-reference-types \
//     --enable-multivalue /tmp/pkgprof/mailstate_bg.wasm -o /tmp/pkgprof/mailstate_bg.wasm
//   cp wasm/js/* /tmp/pkgprof/ && node wasm/bench/profile.mjs loops /tmp/pkgprof

import { createHmac, generateKeyPairSync, sign } from "node:crypto";
import { Session } from "node:inspector/promises";
import { join, resolve } from "node:path";

import { root } from "../tests/vectors.mjs";

const which = process.argv[2] ?? "sendgrid";
const dir = resolve(process.argv[3] ?? join(root, "wasm", "pkg"));
const { handleWebhookSync } = await import(join(dir, "node.js"));

const now = Math.floor(Date.now() / 1000);
const t0 = now - 600;
const ts = String(now);
let run;
if (which === "sendgrid") {
  const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const publicKey = keys.publicKey.export({ type: "spki", format: "der" }).toString("base64");
  const kinds = [
    { event: "processed" },
    { event: "delivered", response: "250 2.0.0 OK", tls: 1, ip: "192.0.2.1" },
    { event: "open", useragent: "Mozilla/5.0", ip: "192.0.2.7", sg_machine_open: false },
    { event: "click", url: "https://example.com/pay", useragent: "Mozilla/5.0" },
    { event: "deferred", response: "421 4.7.0 try later", attempt: "2" },
    { event: "bounce", type: "bounce", status: "5.1.1", reason: "550 5.1.1 user unknown" },
    { event: "spamreport" },
    { event: "group_unsubscribe", asm_group_id: 7 },
  ];
  const body = JSON.stringify(
    Array.from({ length: 100 }, (_, i) => ({
      email: `user${i % 37}@example.com`,
      timestamp: t0 + i,
      "smtp-id": `<msg${i % 50}@example.com>`,
      sg_event_id: `ZXZlbnQtYmVuY2gt${String(i).padStart(4, "0")}`,
      sg_message_id: `Tq9fR2mWx0aZyB4cD5eF${String(i % 50).padStart(2, "0")}.recvd-6b7c8d9e0-abcd1-1-695A3C00-${i}.0`,
      category: ["invoice"],
      tenant: "acme",
      ...kinds[i % kinds.length],
    })),
  );
  const sig = sign("sha256", Buffer.from(ts + body), keys.privateKey).toString("base64");
  const request = {
    headers: new Headers({
      "content-type": "application/json",
      "x-twilio-email-event-webhook-signature": sig,
      "x-twilio-email-event-webhook-timestamp": ts,
    }),
    body: new TextEncoder().encode(body),
  };
  // The ECDSA check runs in WebCrypto in handleWebhook: profile the rest.
  run = () => handleWebhookSync("sendgrid", request, { verify: null });
  void publicKey;
} else {
  const key = Buffer.from(Array.from({ length: 24 }, (_, i) => (i * 37 + 11) % 256));
  const names = ["campaign.email.sent", "email.delivered", "email.opened", "email.clicked", "email.softBounced", "email.hardBounced", "email.spamReported", "email.unsubscribed"];
  const requests = Array.from({ length: 100 }, (_, i) => {
    const body = JSON.stringify({
      eventName: names[i % names.length], eventTime: t0 + i, webhookSchemaVersion: "1.0.0", sourceType: "campaign", campaignId: "cm7camp00bench00001",
      contactIdentity: { id: `cm7contact${String(i % 37).padStart(8, "0")}`, email: `User${i % 37}@Example.com`, userId: null },
      email: { id: `cm7email${String(i).padStart(10, "0")}`, emailMessageId: "cm7msg0000bench0001", subject: "Week 2" },
    });
    const id = `msg_bench${String(i).padStart(6, "0")}`;
    const mac = createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest("base64");
    const headers = new Headers({ "content-type": "application/json", "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": `v1,${mac}` });
    return { headers, body: new TextEncoder().encode(body) };
  });
  // Loops' HMAC runs in wasm in handleWebhook too, so this is the whole call.
  const options = { verify: { secrets: [`whsec_${key.toString("base64")}`], now } };
  run = () => {
    for (const r of requests) handleWebhookSync("loops", r, options);
  };
}

for (let i = 0; i < 200; i++) run();
const session = new Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.start");
for (const end = performance.now() + 6000; performance.now() < end; ) run();
const { profile } = await session.post("Profiler.stop");
session.disconnect();

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const time = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const d = profile.timeDeltas[i] ?? 0;
  time.set(id, (time.get(id) ?? 0) + d);
  total += d;
});
const self = new Map();
const inclusive = new Map();
const name = (id) => byId.get(id).callFrame.functionName || "(anonymous)";
for (const [id, d] of time) {
  self.set(name(id), (self.get(name(id)) ?? 0) + d);
  const seen = new Set();
  for (let x = id; x !== undefined; x = parent.get(x)) {
    if (!seen.has(name(x))) inclusive.set(name(x), (inclusive.get(name(x)) ?? 0) + d);
    seen.add(name(x));
  }
}
const show = (title, m, n) => {
  console.log(title);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`${((100 * v) / total).toFixed(1).padStart(6)}%  ${k.slice(0, 120)}`);
  }
};
show("self", self, 25);
show("inclusive", inclusive, 40);
