// Benchmark of the JavaScript build: the .wasm size (raw and gzipped), and handleWebhook on a
// 100-event signed SendGrid batch inside workerd (Miniflare), median over many runs, with the
// empty round trip measured in the same run as the baseline.
//
//   node wasm/bench/webhook.mjs [--runs 200] [--out BENCHMARKS-js.md]
//
// Needs wasm/pkg (scripts/build-js.sh). Timing: workerd does not advance its clocks during
// synchronous work, so the time is taken from Node around dispatchFetch. Each sample runs
// handleWebhook K times in one request; per-batch time = (median(K calls) - median(0 calls)) / K,
// which cancels the Node-workerd hop, the body upload and the request handling.

import { generateKeyPairSync, sign } from "node:crypto";
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

const mf = new Miniflare({
  modules: true,
  modulesRoot: join(root, "wasm"),
  scriptPath: join(root, "wasm", "bench", "worker.js"),
  modulesRules,
  compatibilityDate: "2026-04-01",
  bindings: { SENDGRID_PUBLIC_KEY: publicKey },
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

const post = (mode, n, h) => sample(`/bench?mode=${mode}&n=${n}`, { method: "POST", headers: h, body });

// Check what this build can do before timing it: verification must pass; the whole webhook
// needs the SendGrid normalizer.
const verified = JSON.parse((await post("verify", 1, headers())).text);
if (verified?.valid !== true) {
  await mf.dispose();
  throw new Error(`the signature did not verify: ${JSON.stringify(verified)}`);
}
const whole = JSON.parse((await post("webhook", 1, headers())).text);
const wholeWorks = whole.status === 200 && whole.events === 100;
const modes = wholeWorks ? ["webhook", "wasm", "plain", "verify"] : ["verify"];

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
  for (const mode of modes) {
    series[`${mode}0`].push((await post(mode, 0, h)).ms);
    series[`${mode}K`].push((await post(mode, K, h)).ms);
  }
}
await mf.dispose();

const m = Object.fromEntries(Object.entries(series).map(([k, v]) => [k, median(v)]));
const per = (mode) => (m[`${mode}K`] - m[`${mode}0`]) / K;
const f = (x) => x.toFixed(3);
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
`;
writeFileSync(out, report);
process.stdout.write(report);
