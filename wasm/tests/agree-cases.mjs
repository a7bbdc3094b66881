// Signed SendGrid requests for the WebCrypto-vs-wasm agreement tests (Node and workerd):
// valid, forged, tampered, stale, future, unsigned, not DER, high-s, several keys, PEM keys.
// Keys are generated at test time; nothing secret is committed.

import { generateKeyPairSync, sign } from "node:crypto";

import { loadVectors } from "./vectors.mjs";

const N = BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

const keyPair = () => generateKeyPairSync("ec", { namedCurve: "P-256" });
const spki = (k) => k.publicKey.export({ type: "spki", format: "der" }).toString("base64");
const pem = (k) => k.publicKey.export({ type: "spki", format: "pem" });

/** The same signature with s replaced by n - s (as valid for ECDSA, and not normalized away). */
function highS(der) {
  const b = Buffer.from(der, "base64");
  const rLen = b[3];
  const r = b.subarray(4, 4 + rLen);
  const s = b.subarray(6 + rLen, 6 + rLen + b[5 + rLen]);
  const flipped = N - BigInt(`0x${s.toString("hex")}`);
  let hex = flipped.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let s2 = Buffer.from(hex, "hex");
  if (s2[0] & 0x80) s2 = Buffer.concat([Buffer.from([0]), s2]);
  const seq = Buffer.concat([Buffer.from([2, r.length]), r, Buffer.from([2, s2.length]), s2]);
  return Buffer.concat([Buffer.from([0x30, seq.length]), seq]).toString("base64");
}

/** A valid request whose WebCrypto check is made to answer "no" (`lie`): handleWebhook must
 * refuse it while handleWebhookSync accepts it, proving WebCrypto's answer is the one used. */
export function lyingCase() {
  const a = keyPair();
  const now = Math.floor(Date.now() / 1000);
  const body = JSON.stringify([{ email: "kim@example.com", timestamp: now, event: "open", sg_event_id: "ag-o1" }]);
  const sig = sign("sha256", Buffer.from(`${now}${body}`), a.privateKey).toString("base64");
  return {
    name: "lying WebCrypto",
    provider: "sendgrid",
    body,
    headers: { "x-twilio-email-event-webhook-signature": sig, "x-twilio-email-event-webhook-timestamp": String(now) },
    options: { verify: { keys: [spki(a)], now } },
    lie: true,
  };
}

/** `[{name, provider, headers, body, options, status, code, webcrypto}]`. */
export function agreementCases() {
  const a = keyPair();
  const b = keyPair();
  const now = Math.floor(Date.now() / 1000);
  const t = now - 60;
  const body = JSON.stringify([
    { email: "kim@example.com", timestamp: t, event: "delivered", sg_event_id: "ag-d1", sg_message_id: "m1.recvd-1" },
    { email: "kim@example.com", timestamp: t, event: "spamreport", sg_event_id: "ag-s1", sg_message_id: "m1.recvd-1" },
    { email: "nope@example.com", timestamp: t, event: "bounce", type: "bounce", sg_event_id: "ag-b1" },
  ]);
  const signed = (k, ts = now, what = body) => ({
    "content-type": "application/json",
    "x-twilio-email-event-webhook-signature": sign("sha256", Buffer.from(`${ts}${what}`), k.privateKey).toString("base64"),
    "x-twilio-email-event-webhook-timestamp": String(ts),
  });
  const opts = (...keys) => ({ verify: { keys, now } });
  const valid = signed(a);
  // Half of all signatures have a high s; make sure one of each kind is played.
  const flipped = { ...valid, "x-twilio-email-event-webhook-signature": highS(valid["x-twilio-email-event-webhook-signature"]) };
  const base = { provider: "sendgrid", body };
  return [
    { ...base, name: "valid", headers: valid, options: opts(spki(a)), status: 200, webcrypto: true },
    { ...base, name: "valid again (cached key)", headers: signed(a), options: opts(spki(a)), status: 200, webcrypto: true },
    { ...base, name: "valid, high s", headers: flipped, options: opts(spki(a)), status: 200, webcrypto: true },
    { ...base, name: "valid, pem key", headers: signed(a), options: opts(pem(a)), status: 200, webcrypto: true },
    { ...base, name: "second key matches", headers: signed(a), options: opts(spki(b), spki(a)), status: 200, webcrypto: true },
    { ...base, name: "forged (another key)", headers: signed(b), options: opts(spki(a)), status: 401, code: "signature_mismatch", webcrypto: true },
    { ...base, name: "tampered body", headers: valid, body: body.replace("spamreport", "delivered"), options: opts(spki(a)), status: 401, code: "signature_mismatch", webcrypto: true },
    { ...base, name: "stale timestamp", headers: signed(a, now - 3600), options: opts(spki(a)), status: 401, code: "stale_timestamp", webcrypto: false },
    { ...base, name: "future timestamp", headers: signed(a, now + 3600), options: opts(spki(a)), status: 401, code: "future_timestamp", webcrypto: false },
    { ...base, name: "unsigned", headers: { "content-type": "application/json" }, options: opts(spki(a)), status: 401, code: "missing_header", webcrypto: false },
    { ...base, name: "signature not der", headers: { ...valid, "x-twilio-email-event-webhook-signature": "AAAA" }, options: opts(spki(a)), status: 401, code: "bad_encoding", webcrypto: false },
    { ...base, name: "bad configured key", headers: valid, options: opts("not a key"), status: 500, code: "bad_encoding", webcrypto: false },
    { ...base, name: "verification skipped", headers: valid, options: { verify: null }, status: 200, webcrypto: false },
  ];
}

/**
 * Every signature vector of the public-key schemes (tests/vectors/signature/{sendgrid,postal,scaleway,
 * ses}), as a webhook call: the `verify` op's input split into the request and the options.
 * `verifies`: whether the vector expects the signature to be accepted.
 */
export function signatureVectorCases() {
  return loadVectors()
    // The public-key schemes, which WebCrypto runs; not a vector that chose Standard Webhooks
    // instead (its HMAC or Ed25519 check runs in wasm).
    .filter((v) => v.doc.op === "verify" && ["sendgrid", "postal", "scaleway", "ses"].includes(v.doc.input.provider))
    .filter((v) => v.doc.input.scheme === undefined)
    .map((v) => {
      const { provider, headers, body, body_base64, ...verify } = v.doc.input;
      return {
        name: v.path,
        provider,
        headers: headers ?? {},
        ...(body_base64 !== undefined ? { body_base64 } : { body: body ?? "" }),
        options: { verify },
        verifies: "output" in v.doc.expect,
      };
    });
}
