// Signed SendGrid requests for the WebCrypto-vs-wasm agreement tests (Node and workerd):
// valid, forged, tampered, stale, future, unsigned, not DER, high-s, several keys, PEM keys;
// signed Loops requests (Standard Webhooks HMAC, checked in wasm) given as a Fetch `Headers`;
// and every vector as a webhook call, for the header-shape tests. Keys and secrets are
// generated at test time; nothing secret is committed.

import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync, sign } from "node:crypto";

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

/**
 * What a played Loops case (`played`, from `playCase`, in Node or in workerd) must show:
 * reading only the listed headers answers as reading every header does, both ways, with the
 * case's status and error code, and Standard Webhooks' HMAC runs in wasm (cheaper there in
 * workerd than a WebCrypto call).
 */
export function assertLoopsCase(played, c) {
  assert.ok(played.plain.result, `handleWebhookSync threw ${JSON.stringify(played.plain.thrown)}`);
  assert.deepEqual(played.sync, played.plain);
  assert.deepEqual(played.async, played.plain);
  assert.equal(played.plain.result.status, c.status, JSON.stringify(played.plain.result.error));
  assert.equal(played.plain.result.error?.code, c.code);
  assert.equal(played.webcryptoCalls, 0);
}

/**
 * Signed Loops requests (Standard Webhooks `v1`, HMAC-SHA256 under a `whsec_` secret made
 * here), their headers given as a Fetch `Headers` (`fetchHeaders`): handleWebhook reads only
 * the headers core lists from it and must answer as handleWebhookSync does with every header
 * in a plain object. `[{name, provider, headers, body, options, status, code, fetchHeaders}]`.
 */
export function loopsCases() {
  const key = Buffer.from(Array.from({ length: 24 }, (_, i) => (i * 53 + 7) % 256));
  const other = Buffer.from(Array.from({ length: 24 }, (_, i) => (i * 31 + 3) % 256));
  const secret = (k) => `whsec_${k.toString("base64")}`;
  const now = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({
    eventName: "email.hardBounced",
    eventTime: now - 5,
    webhookSchemaVersion: "1.0.0",
    sourceType: "transactional",
    contactIdentity: { id: "cm7contact0agree01", email: "Ravi@Example.in", userId: null },
    email: { id: "cm7email000agree01", emailMessageId: "cm7msg0000agree01", subject: "Receipt" },
  });
  const id = "msg_2mLoopsAgree0001";
  const mac = (k, ts = now, what = body, msgId = id) =>
    createHmac("sha256", k).update(`${msgId}.${ts}.${what}`).digest("base64");
  const signed = (sigs, ts = now) => ({
    "content-type": "application/json",
    "user-agent": "Svix-Webhooks/1.0",
    "x-forwarded-for": "192.0.2.9",
    "webhook-id": id,
    "webhook-timestamp": String(ts),
    "webhook-signature": sigs,
  });
  const opts = (...secrets) => ({ verify: { secrets, now } });
  const base = { provider: "loops", body, fetchHeaders: true };
  const { "webhook-signature": _, ...unsigned } = signed("");
  return [
    { ...base, name: "valid", headers: signed(`v1,${mac(key)}`), options: opts(secret(key)), status: 200 },
    { ...base, name: "one good signature among several", headers: signed(`v1,${mac(other)} v1a,${"A".repeat(86)}== v1,${mac(key)}`), options: opts(secret(key)), status: 200 },
    { ...base, name: "the second secret matches", headers: signed(`v1,${mac(key)}`), options: opts(secret(other), secret(key)), status: 200 },
    { ...base, name: "bad signature", headers: signed(`v1,${mac(other)}`), options: opts(secret(key)), status: 401, code: "signature_mismatch" },
    { ...base, name: "tampered body", headers: signed(`v1,${mac(key)}`), body: body.replace("hardBounced", "delivered"), options: opts(secret(key)), status: 401, code: "signature_mismatch" },
    { ...base, name: "signature of another webhook-id", headers: signed(`v1,${mac(key, now, body, "msg_other")}`), options: opts(secret(key)), status: 401, code: "signature_mismatch" },
    { ...base, name: "missing webhook-signature", headers: unsigned, options: opts(secret(key)), status: 401, code: "missing_header" },
    { ...base, name: "stale timestamp", headers: signed(`v1,${mac(key, now - 3600)}`, now - 3600), options: opts(secret(key)), status: 401, code: "stale_timestamp" },
    { ...base, name: "future timestamp", headers: signed(`v1,${mac(key, now + 3600)}`, now + 3600), options: opts(secret(key)), status: 401, code: "future_timestamp" },
    { ...base, name: "no v1 entry", headers: signed("v2,AAAA"), options: opts(secret(key)), status: 401, code: "bad_encoding" },
    { ...base, name: "secret not whsec_ base64", headers: signed(`v1,${mac(key)}`), options: opts("whsec_!!"), status: 401, code: "bad_encoding" },
    { ...base, name: "svix header names", headers: { "svix-id": id, "svix-timestamp": String(now), "svix-signature": `v1,${mac(key)}` }, options: opts(secret(key)), status: 200 },
    { ...base, name: "verification skipped", headers: signed("v1,AAAA"), options: { verify: null }, status: 200 },
  ];
}

/**
 * Every signature, normalize and webhook vector as a webhook call (a `verify` vector's other
 * fields are its `verify` options, a `normalize` vector has `verify: null`), but provider
 * detection, which the webhook op does not do: `[{name, provider, headers, body | body_base64,
 * options}]`.
 */
export function headerShapeCases() {
  const out = [];
  for (const v of loadVectors()) {
    const input = v.doc.input;
    if (typeof input !== "object" || input === null || input.provider === "auto") continue;
    const { provider, headers, body, body_base64, ...rest } = input;
    let options;
    if (v.doc.op === "webhook") options = rest;
    else if (v.doc.op === "normalize") options = { verify: null };
    else if (v.doc.op === "verify") options = { verify: rest };
    else continue;
    out.push({
      name: v.path,
      provider,
      headers: headers ?? {},
      ...(body_base64 !== undefined ? { body_base64 } : { body: body ?? "" }),
      options,
    });
  }
  return out;
}
