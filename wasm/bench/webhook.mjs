// Benchmark of the JavaScript build: the .wasm size (raw and gzipped), and handleWebhook on a
// 100-event signed SendGrid batch and on 100 signed Loops requests (Standard Webhooks; Loops
// sends one event per request) inside workerd (Miniflare), median over many runs, each against
// a minimal hand-written JavaScript handler for the same provider (bench/hand.js: WebCrypto
// verify, JSON.parse, field mapping, routing by type) measured in the same run.
//
//   node wasm/bench/webhook.mjs [--runs 200] [--out BENCHMARKS-js.md]
//
// Needs wasm/pkg (scripts/build-js.sh). Timing: workerd does not advance its clocks during
// synchronous work, so the time is taken from Node around dispatchFetch. Each sample runs
// handleWebhook K times in one request; per-batch time = (median(K calls) - median(0 calls)) / K,
// which cancels the Node-workerd hop, the body upload and the request handling.

import { createHmac, generateKeyPairSync, sign } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import { Miniflare, modulesRules } from "../tests/workerd/miniflare.mjs";
import { root } from "../tests/vectors.mjs";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const runs = Number(opt("runs", "200"));
const out = opt("out", join(root, "BENCHMARKS-js.md"));
const K = 20;

const wasm = readFileSync(join(root, "wasm", "pkg", "mailstate_bg.wasm"));
const size = { raw: wasm.length, gzip: gzipSync(wasm, { level: 9 }).length };

// A 100-event SendGrid batch, every event type, signed with a key made for this run.
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
const t0 = Math.floor(Date.now() / 1000) - 600;
const batch = Array.from({ length: 100 }, (_, i) => ({
  email: `user${i % 37}@example.com`,
  timestamp: t0 + i,
  "smtp-id": `<msg${i % 50}@example.com>`,
  sg_event_id: `ZXZlbnQtYmVuY2gt${String(i).padStart(4, "0")}`,
  sg_message_id: `Tq9fR2mWx0aZyB4cD5eF${String(i % 50).padStart(2, "0")}.recvd-6b7c8d9e0-abcd1-1-695A3C00-${i}.0`,
  category: ["invoice"],
  tenant: "acme",
  ...kinds[i % kinds.length],
}));
const body = JSON.stringify(batch);
const headers = () => {
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = sign("sha256", Buffer.concat([Buffer.from(ts), Buffer.from(body)]), keys.privateKey);
  return {
    "content-type": "application/json",
    "x-twilio-email-event-webhook-signature": sig.toString("base64"),
    "x-twilio-email-event-webhook-timestamp": ts,
  };
};

// 100 Loops events, every email event type, each its own request signed with Standard Webhooks
// v1 under a whsec_ secret made for this run; re-signed for every sample (fresh timestamps).
const loopsKey = Buffer.from(Array.from({ length: 24 }, (_, i) => (i * 37 + 11) % 256));
const loopsSecret = `whsec_${loopsKey.toString("base64")}`;
const loopsNames = [
  "campaign.email.sent", "email.delivered", "email.opened", "email.clicked", "email.softBounced",
  "email.hardBounced", "email.spamReported", "email.unsubscribed",
];
const loopsBodies = Array.from({ length: 100 }, (_, i) =>
  JSON.stringify({
    eventName: loopsNames[i % loopsNames.length],
    eventTime: t0 + i,
    webhookSchemaVersion: "1.0.0",
    sourceType: "campaign",
    campaignId: "cm7camp00bench00001",
    contactIdentity: { id: `cm7contact${String(i % 37).padStart(8, "0")}`, email: `User${i % 37}@Example.com`, userId: null },
    email: { id: `cm7email${String(i).padStart(10, "0")}`, emailMessageId: "cm7msg0000bench0001", subject: "Week 2" },
  }),
);
const loopsEnvelope = () => {
  const ts = String(Math.floor(Date.now() / 1000));
  return JSON.stringify(
    loopsBodies.map((b, i) => {
      const id = `msg_bench${String(i).padStart(6, "0")}`;
      const mac = createHmac("sha256", loopsKey).update(`${id}.${ts}.${b}`).digest("base64");
      return { headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": `v1,${mac}` }, body: b };
    }),
  );
};

const mf = new Miniflare({
  modules: true,
  modulesRoot: join(root, "wasm"),
  scriptPath: join(root, "wasm", "bench", "worker.js"),
  modulesRules,
  compatibilityDate: "2026-04-01",
  bindings: { SENDGRID_PUBLIC_KEY: publicKey, LOOPS_SECRET: loopsSecret },
});
await mf.ready;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
async function sample(path, init) {
  const start = process.hrtime.bigint();
  const res = await mf.dispatchFetch(`http://bench.example.com${path}`, init);
  const text = await res.text();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { ms, text };
}

const isLoops = (mode) => mode.startsWith("loops");
const post = (mode, n, h, loops) =>
  sample(`/bench?mode=${mode}&n=${n}`, {
    method: "POST",
    headers: isLoops(mode) ? { "content-type": "application/json" } : h,
    body: isLoops(mode) ? (loops ?? loopsEnvelope()) : body,
  });

// Check what this build can do before timing it: verification must pass; the whole webhook
// needs the SendGrid normalizer.
const verified = JSON.parse((await post("verify", 1, headers())).text);
if (verified?.valid !== true) {
  await mf.dispose();
  throw new Error(`the signature did not verify: ${JSON.stringify(verified)}`);
}
const whole = JSON.parse((await post("webhook", 1, headers())).text);
const wholeWorks = whole.status === 200 && whole.events === 100;
// The hand-written handlers must do the same work: the same status and routed counts.
const hand = JSON.parse((await post("hand", 1, headers())).text);
const loopsWhole = JSON.parse((await post("loops", 1)).text);
const loopsHand = JSON.parse((await post("loopshand", 1)).text);
const sorted = (o) => JSON.stringify(Object.entries(o ?? {}).sort());
const same = (a, b) => a.status === b.status && sorted(a.counts) === sorted(b.counts);
if (wholeWorks && !same(whole, hand)) throw new Error(`sendgrid handlers differ: ${JSON.stringify({ whole, hand })}`);
const loopsWorks = loopsWhole.status === 200 && loopsWhole.events === 100;
if (loopsWorks && !same(loopsWhole, loopsHand)) {
  throw new Error(`loops handlers differ: ${JSON.stringify({ loopsWhole, loopsHand })}`);
}
const modes = [
  ...(wholeWorks ? ["webhook", "hand", "wasm", "plain", "verify"] : ["verify"]),
  ...(loopsWorks ? ["loops", "loopshand", "loopsplain", "loopsplainobj"] : []),
];

const series = { ping: [] };
for (const mode of modes) {
  series[`${mode}0`] = [];
  series[`${mode}K`] = [];
  for (let i = 0; i < 10; i++) await post(mode, K, headers());
}
for (let i = 0; i < runs; i++) {
  // Interleaved, so drift on a shared machine hits every series alike.
  series.ping.push((await sample("/ping")).ms);
  const h = headers();
  const loops = loopsEnvelope();
  for (const mode of modes) {
    series[`${mode}0`].push((await post(mode, 0, h, loops)).ms);
    series[`${mode}K`].push((await post(mode, K, h, loops)).ms);
  }
}
await mf.dispose();

const m = Object.fromEntries(Object.entries(series).map(([k, v]) => [k, median(v)]));
const per = (mode) => (m[`${mode}K`] - m[`${mode}0`]) / K;
const f = (x) => x.toFixed(3);
const ratio = (a, b) => (modes.includes(a) && modes.includes(b) ? `${(per(a) / per(b)).toFixed(2)}x` : "n/a");
const report = `# JavaScript build benchmarks

Command: \`node wasm/bench/webhook.mjs --runs ${runs}\` (after \`scripts/build-js.sh\`), on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, workerd from miniflare 4.20260426.0, a shared 2-core machine.

## Size of \`wasm/pkg/mailstate_bg.wasm\`

| | bytes |
|---|---|
| raw | ${size.raw} |
| gzip -9 | ${size.gzip} |

## handleWebhook on a 100-event signed SendGrid batch (${body.length} bytes), inside workerd

Median of ${runs} interleaved samples. Each sample is one request that runs handleWebhook K = ${K}
times on the same body; the per-batch time is (median at K - median at 0) / K, so the
Node-to-workerd hop, the upload of the body and the request handling cancel out.

| measure | median ms |
|---|---|
| empty round trip (GET /ping), the baseline | ${f(m.ping)} |
| request carrying the batch, 0 calls | ${f(m.verify0)} |
| **per batch: handleWebhook, verify (ECDSA P-256 by WebCrypto) + normalize + route** | **${wholeWorks ? f(per("webhook")) : `n/a: status ${whole.status}, ${whole.error?.code} (this build cannot normalize SendGrid)`}** |
| per batch: handleWebhookSync, verify (ECDSA P-256 in wasm) + normalize + route | ${wholeWorks ? f(per("wasm")) : "n/a"} |
| per batch: handleWebhookSync with \`verify: null\` (normalize + route) | ${wholeWorks ? f(per("plain")) : "n/a"} |
| per batch: verify alone (in wasm) | ${f(per("verify"))} |
| per batch: the hand-written handler (bench/hand.js: WebCrypto ECDSA, JSON.parse, field mapping, routing) | ${wholeWorks ? f(per("hand")) : "n/a"} |
| **handleWebhook / hand-written, SendGrid** | **${ratio("webhook", "hand")}** |

## handleWebhook on 100 signed Loops requests (Standard Webhooks v1), inside workerd

Loops sends one event per request, so the unit is 100 requests of one event each (every email
event type), each verified, normalized and routed on its own; measured as above, in the same
run.

| measure | median ms |
|---|---|
| per 100 requests: handleWebhook("loops"), HMAC-SHA256 + normalize + route, all in wasm | ${loopsWorks ? f(per("loops")) : `n/a: ${JSON.stringify(loopsWhole)}`} |
| per 100 requests: handleWebhookSync("loops") with \`verify: null\` (normalize + route) | ${loopsWorks ? f(per("loopsplain")) : "n/a"} |
| per 100 requests: the same, headers given as a plain object instead of a \`Headers\` | ${loopsWorks ? f(per("loopsplainobj")) : "n/a"} |
| per 100 requests: the hand-written handler (WebCrypto HMAC, JSON.parse, field mapping, routing) | ${loopsWorks ? f(per("loopshand")) : "n/a"} |
| **handleWebhook / hand-written, Loops** | **${ratio("loops", "loopshand")}** |
`;
writeFileSync(out, report);
process.stdout.write(report);
