// The edge worker in real workerd (Miniflare from Node): signed SendGrid batch accepted,
// forged one rejected with 401, retried duplicate dropped, SNS subscription confirmation
// handled, and the routing, dedupe and retry behaviour around them. Key material is generated
// here, at test time; nothing secret is committed.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHmac, createSign, generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";

import { startEdge } from "./harness.mjs";

const SUPPRESS_URL = "https://suppress.example.com/ingest";
const CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem";
const SUBSCRIBE_URL =
  "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:mail&Token=t0k3n";

// SendGrid: an ECDSA P-256 key pair; the worker gets the public key as base64 DER, as SendGrid
// shows it.
const sendgridKeys = generateKeyPairSync("ec", { namedCurve: "P-256" });
const sendgridPublicKey = sendgridKeys.publicKey.export({ type: "spki", format: "der" }).toString("base64");

// SNS: an RSA key and a self-signed certificate, served at CERT_URL by the outbound handler.
const snsDir = mkdtempSync(join(tmpdir(), "mailstate-sns-"));
execFileSync("openssl", [
  "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=sns.amazonaws.com",
  "-keyout", join(snsDir, "key.pem"), "-out", join(snsDir, "cert.pem"),
], { stdio: "ignore" });
const snsKey = readFileSync(join(snsDir, "key.pem"), "utf8");
const snsCert = readFileSync(join(snsDir, "cert.pem"), "utf8");
rmSync(snsDir, { recursive: true, force: true });

/** A SendGrid event batch: 2 suppress (spamreport, hard bounce), 2 state, 2 analytics. */
function sendgridBatch(tag) {
  const t = Math.floor(Date.now() / 1000) - 60;
  const msg = "Tq9fR2mWx0aZyB4cD5eF6g.recvd-6b7c8d9e0-abcd1-1-695A3C00-3.0";
  const base = (id, email) => ({ email, timestamp: t, sg_event_id: `${tag}-${id}`, sg_message_id: msg });
  return JSON.stringify([
    { ...base("p1", "kim@example.com"), event: "processed" },
    { ...base("d1", "kim@example.com"), event: "delivered", response: "250 2.0.0 OK" },
    { ...base("o1", "kim@example.com"), event: "open", useragent: "Mozilla/5.0" },
    { ...base("c1", "kim@example.com"), event: "click", url: "https://example.com/pay" },
    { ...base("s1", "kim@example.com"), event: "spamreport" },
    { ...base("b1", "nope@example.com"), event: "bounce", type: "bounce", status: "5.1.1", reason: "550 5.1.1 user unknown" },
  ]);
}

/** Sign a SendGrid body: ECDSA over timestamp ‖ body, DER signature in base64. */
function sendgridHeaders(body, privateKey = sendgridKeys.privateKey) {
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = sign("sha256", Buffer.concat([Buffer.from(ts), Buffer.from(body)]), privateKey);
  return {
    "content-type": "application/json",
    "x-twilio-email-event-webhook-signature": sig.toString("base64"),
    "x-twilio-email-event-webhook-timestamp": ts,
  };
}

// Standard Webhooks (Loops: a whsec_ secret, key = its base64 part; AhaSend: the whole string).
const LOOPS_KEY = Buffer.from("c3RhbmRhcmQtd2ViaG9va3Mta2V5LTAx", "base64");
const LOOPS_SECRET = `whsec_${LOOPS_KEY.toString("base64")}`;
const AHASEND_SECRET = "aha-whsec-EdgeWorkerTestSecret0123456789";

/** Standard Webhooks headers for `body`, signed with HMAC key `key`. */
function standardWebhooksHeaders(id, body, key) {
  const ts = String(Math.floor(Date.now() / 1000));
  const mac = createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest("base64");
  return { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": `v1,${mac}` };
}

/** An SNS SubscriptionConfirmation, signed with SignatureVersion 1 (SHA1withRSA). */
function snsConfirmation() {
  const msg = {
    Type: "SubscriptionConfirmation",
    MessageId: "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
    Token: "t0k3n",
    TopicArn: "arn:aws:sns:us-east-1:123456789012:mail",
    Message: "You have chosen to subscribe to the topic arn:aws:sns:us-east-1:123456789012:mail.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
    SubscribeURL: SUBSCRIBE_URL,
    Timestamp: new Date().toISOString(),
    SignatureVersion: "1",
    SigningCertURL: CERT_URL,
  };
  const fields = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"];
  const canonical = fields.map((k) => `${k}\n${msg[k]}\n`).join("");
  const signer = createSign("RSA-SHA1");
  signer.update(canonical);
  msg.Signature = signer.sign(snsKey, "base64");
  return JSON.stringify(msg);
}

/** Canonical events as NDJSON (provider `ndjson`, accepted unverified by configuration). */
function ndjson(events) {
  return events
    .map(([key, type, recipient]) =>
      JSON.stringify({
        event_key: key, provider: "ses", type, provider_type: type, message_id: "m1", recipient,
        occurred_at: "2025-11-03T20:00:00.000Z", ...(type === "hard_bounce" ? { bounce_class: "hard" } : {}),
      }))
    .join("\n");
}

describe("edge worker in workerd", () => {
  let edge;
  const outbound = { suppress: [], visited: [], suppressStatus: 200 };

  before(async () => {
    edge = await startEdge({
      bindings: {
        SUPPRESS_URL,
        SENDGRID_PUBLIC_KEY: sendgridPublicKey,
        SES_ENABLED: "true",
        UNVERIFIED_PROVIDERS: "ndjson",
        LOOPS_SECRET,
        AHASEND_SECRET,
        STANDARD_WEBHOOKS_PROVIDERS: "postmark",
        POSTMARK_SECRET: LOOPS_SECRET,
        AZURE_ACS_CREDENTIAL: "az-secret-0123",
        ELASTIC_EMAIL_CREDENTIAL: "ee-secret-0123",
        UNISENDER_GO_SECRET: "6n5d7yqzb3x4w1example0apikey",
      },
      outbound: async (request) => {
        if (request.url === SUPPRESS_URL) {
          if (outbound.suppressStatus !== 200) return new Response("down", { status: outbound.suppressStatus });
          outbound.suppress.push(await request.json());
          return new Response("ok");
        }
        if (request.url === CERT_URL) return new Response(snsCert);
        outbound.visited.push(request.url);
        return new Response("<ConfirmSubscriptionResponse/>");
      },
    });
  });
  after(async () => {
    await edge?.mf.dispose();
  });
  beforeEach(() => {
    outbound.suppress.length = 0;
    outbound.visited.length = 0;
    outbound.suppressStatus = 200;
  });

  test("routes, forwards and dedupes a batch (ndjson source, unverified by configuration)", async () => {
    const body = ndjson([
      ["n:c1", "complaint", "ann@example.com"],
      ["n:d1", "delivered", "ann@example.com"],
      ["n:o1", "open", "ann@example.com"],
      ["n:o1", "open", "ann@example.com"],
    ]);
    const res = await edge.post("/webhooks/ndjson", { body });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { accepted: 3, dropped: 1, errors: 0 });
    assert.deepEqual(outbound.suppress.map((b) => b.events.map((e) => e.event_key)), [["n:c1"]]);
    assert.deepEqual(await edge.queued("mailstate-state", 1), ["n:d1"]);
    assert.deepEqual(await edge.queued("mailstate-analytics", 1), ["n:o1"]);
    assert.equal(await edge.seen.get("n:c1"), "1");

    // The same events again, with one new: only the new one goes on.
    outbound.suppress.length = 0;
    const again = await edge.post("/webhooks/ndjson", {
      body: `${body}\n${ndjson([["n:h1", "hard_bounce", "bob@example.com"]])}`,
    });
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), { accepted: 1, dropped: 4, errors: 0 });
    assert.deepEqual(outbound.suppress.map((b) => b.events.map((e) => e.event_key)), [["n:h1"]]);
  });

  test("a failed forward answers 503 and records nothing, so the provider's retry goes through", async () => {
    const body = ndjson([["n:u7", "unsubscribe", "cy@example.com"]]);
    outbound.suppressStatus = 500;
    const res = await edge.post("/webhooks/ndjson", { body });
    assert.equal(res.status, 503);
    assert.equal(await edge.seen.get("n:u7"), null);
    outbound.suppressStatus = 200;
    const retry = await edge.post("/webhooks/ndjson", { body });
    assert.equal(retry.status, 200);
    assert.deepEqual(await retry.json(), { accepted: 1, dropped: 0, errors: 0 });
    assert.equal(outbound.suppress.length, 1);
  });

  test("unknown and unconfigured providers are 404, other methods 405", async () => {
    assert.equal((await edge.post("/webhooks/pigeon", { body: "[]" })).status, 404);
    assert.equal((await edge.post("/webhooks/mailgun", { body: "{}" })).status, 404);
    assert.equal((await edge.post("/nope", { body: "" })).status, 404);
    const get = await edge.mf.dispatchFetch("https://edge.example.com/webhooks/sendgrid");
    assert.equal(get.status, 405);
  });

  test("a signed SendGrid batch is accepted and routed", async () => {
    const body = sendgridBatch("accept");
    const res = await edge.post("/webhooks/sendgrid", { headers: sendgridHeaders(body), body });
    const answer = await res.json();
    assert.equal(res.status, 200, JSON.stringify(answer));
    assert.deepEqual(answer, { accepted: 6, dropped: 0, errors: 0 });
    const suppressed = outbound.suppress.flatMap((b) => b.events.map((e) => e.type)).sort();
    assert.deepEqual(suppressed, ["complaint", "hard_bounce"]);
    assert.equal((await edge.queued("mailstate-state", 3)).filter((k) => k.includes("accept-")).length, 2);
    assert.equal((await edge.queued("mailstate-analytics", 3)).filter((k) => k.includes("accept-")).length, 2);
  });

  test("machine opens and clicks go to analytics with their automated flag kept", async () => {
    const t = Math.floor(Date.now() / 1000) - 60;
    const msg = "Mq9fR2mWx0aZyB4cD5eF6g.recvd-6b7c8d9e0-abcd1-1-695A3C00-3.0";
    const body = JSON.stringify([
      { email: "kim@example.com", timestamp: t, sg_event_id: "machine-o1", sg_message_id: msg, event: "open", sg_machine_open: true },
      { email: "kim@example.com", timestamp: t, sg_event_id: "machine-o2", sg_message_id: msg, event: "open", sg_machine_open: false },
    ]);
    const res = await edge.post("/webhooks/sendgrid", { headers: sendgridHeaders(body), body });
    assert.equal(res.status, 200);
    // The queue holds earlier tests' events too: wait for these two.
    let keys = [];
    for (let i = 0; i < 100 && keys.length < 2; i++) {
      keys = (await edge.queued("mailstate-analytics", Infinity, 50)).filter((k) => k.includes("machine-"));
    }
    assert.deepEqual(keys, ["sendgrid:machine-o1", "sendgrid:machine-o2"]);
    assert.equal((await edge.received("mailstate-analytics", "sendgrid:machine-o1")).automated, "privacy_proxy");
    assert.equal((await edge.received("mailstate-analytics", "sendgrid:machine-o2")).automated, null);
  });

  test("a signed Loops hard bounce is suppressed, and Loops' test event is answered as a ping", async () => {
    const t = Math.floor(Date.now() / 1000) - 30;
    const body = JSON.stringify({
      eventName: "email.hardBounced", eventTime: t, webhookSchemaVersion: "1.0.0", sourceType: "loop",
      contactIdentity: { id: "c1", email: "ravi@example.in", userId: null },
      email: { id: "loops-email-1", emailMessageId: "m1", subject: "Tips" },
    });
    const res = await edge.post("/webhooks/loops", { headers: standardWebhooksHeaders("msg_edgeLoops1", body, LOOPS_KEY), body });
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), { accepted: 1, dropped: 0, errors: 0 });
    assert.deepEqual(outbound.suppress.flatMap((b) => b.events.map((e) => e.event_key)), ["loops:msg_edgeLoops1"]);

    const ping = JSON.stringify({ eventName: "testing.testEvent", eventTime: t, webhookSchemaVersion: "1.0.0", message: "test" });
    const pong = await edge.post("/webhooks/loops", { headers: standardWebhooksHeaders("msg_edgeTest1", ping, LOOPS_KEY), body: ping });
    assert.equal(pong.status, 200);
    assert.deepEqual(await pong.json(), { control: "ping" });
  });

  test("AhaSend is verified with its whole secret string; the spec's key decoding is refused", async () => {
    const t = new Date(Date.now() - 30_000).toISOString();
    const body = JSON.stringify({
      type: "message.delivered", timestamp: t, webhook_id: "11111111-2222-4333-8444-555555555555",
      data: { event: "on_delivered", recipient: "lena@example.at", message_id_header: "<edge1@app.example>" },
    });
    const ok = await edge.post("/webhooks/ahasend", { headers: standardWebhooksHeaders("msg_edgeAha1", body, AHASEND_SECRET), body });
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.deepEqual(await ok.json(), { accepted: 1, dropped: 0, errors: 0 });
    const wrongKey = Buffer.from(AHASEND_SECRET.slice("aha-whsec-".length), "utf8");
    const forged = await edge.post("/webhooks/ahasend", { headers: standardWebhooksHeaders("msg_edgeAha2", body, wrongKey), body });
    assert.equal(forged.status, 401);
    assert.equal((await forged.json()).error, "signature_mismatch");
  });

  test("a provider listed in STANDARD_WEBHOOKS_PROVIDERS is verified as Standard Webhooks", async () => {
    const body = JSON.stringify({
      RecordType: "Delivery", MessageID: "sw-postmark-1", Recipient: "ann@example.com",
      DeliveredAt: new Date(Date.now() - 30_000).toISOString(),
    });
    const ok = await edge.post("/webhooks/postmark", { headers: standardWebhooksHeaders("msg_edgePm1", body, LOOPS_KEY), body });
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.deepEqual(await ok.json(), { accepted: 1, dropped: 0, errors: 0 });
    const unsigned = await edge.post("/webhooks/postmark", { headers: { "content-type": "application/json" }, body });
    assert.equal(unsigned.status, 401);
  });

  test("a forged SendGrid batch is rejected with 401 and nothing goes on", async () => {
    const body = sendgridBatch("forged");
    // Signed by a key that is not SendGrid's.
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const forged = await edge.post("/webhooks/sendgrid", { headers: sendgridHeaders(body, other), body });
    assert.equal(forged.status, 401);
    assert.equal((await forged.json()).error, "signature_mismatch");
    // Signed correctly, then tampered with.
    const headers = sendgridHeaders(body);
    const tampered = body.replace("spamreport", "delivered");
    const res = await edge.post("/webhooks/sendgrid", { headers, body: tampered });
    assert.equal(res.status, 401);
    // No signature at all.
    const bare = await edge.post("/webhooks/sendgrid", { headers: { "content-type": "application/json" }, body });
    assert.equal(bare.status, 401);
    assert.equal(outbound.suppress.length, 0);
  });

  test("a retried SendGrid batch is dropped as duplicates", async () => {
    const body = sendgridBatch("retry");
    const first = await edge.post("/webhooks/sendgrid", { headers: sendgridHeaders(body), body });
    assert.equal(first.status, 200);
    assert.equal(outbound.suppress.length, 1);
    // SendGrid re-sends the same events (re-signed) after a timeout on its side.
    const retry = await edge.post("/webhooks/sendgrid", { headers: sendgridHeaders(body), body });
    assert.equal(retry.status, 200);
    assert.deepEqual(await retry.json(), { accepted: 0, dropped: 6, errors: 0 });
    assert.equal(outbound.suppress.length, 1, "suppressions forwarded once");
  });

  test("an SNS subscription confirmation is verified and confirmed", async () => {
    const body = snsConfirmation();
    const res = await edge.post("/webhooks/ses", {
      headers: { "content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "SubscriptionConfirmation" },
      body,
    });
    const answer = await res.json();
    assert.equal(res.status, 200, JSON.stringify(answer));
    assert.deepEqual(answer, { confirmed: true });
    assert.deepEqual(outbound.visited, [SUBSCRIBE_URL]);

    // A confirmation whose signature does not match is not visited.
    const forged = body.replace("t0k3n\"", "t0k3m\"");
    const bad = await edge.post("/webhooks/ses", {
      headers: { "x-amz-sns-message-type": "SubscriptionConfirmation" },
      body: forged,
    });
    assert.equal(bad.status, 401);
    assert.deepEqual(outbound.visited, [SUBSCRIBE_URL]);
  });

  const send = (path, init) => edge.mf.dispatchFetch(`https://edge.example.com${path}`, init);

  test("an Event Grid subscription validation is answered with the validation code", async () => {
    const body = JSON.stringify([{
      id: "v1", topic: "/subscriptions/x", subject: "", eventTime: "2026-03-03T12:00:00Z",
      eventType: "Microsoft.EventGrid.SubscriptionValidationEvent", dataVersion: "1", metadataVersion: "1",
      data: { validationCode: "512d38b6-c7b8-40c8-89fe-f46f9e9622b6", validationUrl: "https://rp.example/validate" },
    }]);
    const headers = { "aeg-event-type": "SubscriptionValidation", "content-type": "application/json" };
    const res = await send("/webhooks/azure_acs?code=az-secret-0123", { method: "POST", headers, body });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { validationResponse: "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" });
    // Without the query-string secret the handshake is refused like any other request.
    const bad = await send("/webhooks/azure_acs", { method: "POST", headers, body });
    assert.equal(bad.status, 401);
  });

  test("the CloudEvents OPTIONS handshake is answered with WebHook-Allowed-Origin", async () => {
    const res = await send("/webhooks/azure_acs?code=az-secret-0123", {
      method: "OPTIONS",
      headers: { "WebHook-Request-Origin": "eventgrid.azure.net" },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("webhook-allowed-origin"), "eventgrid.azure.net");
  });

  test("an Elastic Email GET notification is verified by its URL secret and forwarded", async () => {
    const query = "transaction=t1&to=mia%40example.com&status=Error&category=NoMailbox" +
      "&date=3%2F9%2F2026%2011%3A59%3A59%20PM";
    const res = await send(`/webhooks/elastic_email?${query}&key=ee-secret-0123`, { method: "GET" });
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), { accepted: 1, dropped: 0, errors: 0 });
    assert.equal(outbound.suppress.length, 1);
    assert.equal(outbound.suppress[0].events[0].type, "hard_bounce");
    const forged = await send(`/webhooks/elastic_email?${query}&key=guess`, { method: "GET" });
    assert.equal(forged.status, 401);
  });

  test("Unisender Go's GET probe is answered 200; other methods are refused where not used", async () => {
    const probe = await send("/webhooks/unisender_go?from=setup", { method: "GET" });
    assert.equal(probe.status, 200);
    assert.deepEqual(await probe.json(), { control: "ping" });
    const put = await send("/webhooks/unisender_go", { method: "PUT", body: "{}" });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "POST, GET");
    const get = await send("/webhooks/sendgrid", { method: "GET" });
    assert.equal(get.status, 405);
  });
});
