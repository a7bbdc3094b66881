// Minimal hand-written webhook handlers, the baseline handleWebhook is measured against
// (issue 19, "Speed and size"): what a team would write for one provider without mailstate.
// Each one verifies the signature with WebCrypto, parses the body with JSON.parse, maps every
// event's fields to the canonical ones, drops in-batch duplicates and routes by type, and
// answers with a status. It does less than core on purpose where a minimal handler would (no
// bounce categories, no SMTP-code reading, no per-field type errors), so the ratio is an upper
// bound of what mailstate costs over doing it by hand.

const subtle = crypto.subtle;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const ROUTE = {
  complaint: "suppress", hard_bounce: "suppress", unsubscribe: "suppress",
  accepted: "state", delivered: "state", deferred: "state", soft_bounce: "state",
  rejected: "state", resubscribe: "state", unknown: "state",
  open: "analytics", click: "analytics",
};

const keys = new Map();
function cached(id, make) {
  let k = keys.get(id);
  if (k === undefined) {
    k = make();
    keys.set(id, k);
  }
  return k;
}

function b64(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A DER ECDSA signature as the fixed-width r ‖ s WebCrypto takes. */
function derToRaw(der) {
  let i = 2;
  if (der[1] & 0x80) i += der[1] & 0x7f;
  const out = new Uint8Array(64);
  for (let part = 0; part < 2; part++) {
    const len = der[i + 1];
    let v = der.subarray(i + 2, i + 2 + len);
    while (v.length > 32 && v[0] === 0) v = v.subarray(1);
    out.set(v, part * 32 + (32 - v.length));
    i += 2 + len;
  }
  return out;
}

function routed(events) {
  const routes = { suppress: [], state: [], analytics: [], drop: [] };
  const seen = new Set();
  for (const e of events) {
    if (seen.has(e.event_key)) routes.drop.push(e);
    else {
      seen.add(e.event_key);
      routes[ROUTE[e.type]].push(e);
    }
  }
  return { status: 200, routes };
}

const SENDGRID_TYPES = {
  processed: "accepted", delivered: "delivered", deferred: "deferred", open: "open",
  click: "click", dropped: "rejected", spamreport: "complaint", unsubscribe: "unsubscribe",
  group_unsubscribe: "unsubscribe", group_resubscribe: "resubscribe",
};

/** SendGrid: ECDSA P-256 over timestamp ‖ body; a JSON array of events. */
export async function sendgridByHand(headers, body, publicKeyB64, now) {
  const sig = headers.get("x-twilio-email-event-webhook-signature");
  const ts = headers.get("x-twilio-email-event-webhook-timestamp");
  if (!sig || !ts || Math.abs(now - Number(ts)) > 300) return { status: 401 };
  const key = await cached(`sg:${publicKeyB64}`, () =>
    subtle.importKey("spki", b64(publicKeyB64), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]),
  );
  const ok = await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, derToRaw(b64(sig)), concat(encoder.encode(ts), body));
  if (!ok) return { status: 401 };
  let batch;
  try {
    batch = JSON.parse(decoder.decode(body));
  } catch {
    return { status: 400 };
  }
  const events = batch.map((e) => {
    let type = SENDGRID_TYPES[e.event] ?? "unknown";
    let bounceClass = null;
    if (e.event === "bounce") {
      type = e.type === "blocked" ? "soft_bounce" : "hard_bounce";
      bounceClass = e.type === "blocked" ? "block" : "hard";
    }
    const messageId = typeof e.sg_message_id === "string" ? e.sg_message_id.split(".")[0] : null;
    return {
      event_key: `sendgrid:${e.sg_event_id}`,
      provider: "sendgrid",
      provider_event_id: e.sg_event_id ?? null,
      type,
      provider_type: e.event,
      message_id: messageId,
      smtp_message_id: e["smtp-id"]?.replace(/^<|>$/g, "") ?? null,
      recipient: e.email?.toLowerCase() ?? null,
      occurred_at: new Date(e.timestamp * 1000).toISOString(),
      bounce_class: bounceClass,
      diagnostic: e.reason ?? e.response ?? null,
      enhanced_status: e.status ?? null,
      url: e.url ?? null,
      user_agent: e.useragent ?? null,
      ip: e.ip ?? null,
      automated: e.event === "open" && (e.sg_machine_open === true || e.sg_machine_open === "true") ? "privacy_proxy" : null,
      tags: Array.isArray(e.category) ? e.category : e.category ? [e.category] : [],
      raw: JSON.stringify(e),
    };
  });
  return routed(events);
}

const LOOPS_TYPES = {
  "campaign.email.sent": "accepted", "loop.email.sent": "accepted", "transactional.email.sent": "accepted",
  "email.delivered": "delivered", "email.softBounced": "deferred", "email.hardBounced": "hard_bounce",
  "email.opened": "open", "email.clicked": "click", "email.unsubscribed": "unsubscribe",
  "email.resubscribed": "resubscribe", "email.spamReported": "complaint",
};

/** Loops: Standard Webhooks v1 (HMAC-SHA256 of id.timestamp.body, whsec_ key); one event. */
export async function loopsByHand(headers, body, secret, now) {
  const id = headers.get("webhook-id");
  const ts = headers.get("webhook-timestamp");
  const sigs = headers.get("webhook-signature");
  if (!id || !ts || !sigs || Math.abs(now - Number(ts)) > 300) return { status: 401 };
  const key = await cached(`loops:${secret}`, () =>
    subtle.importKey("raw", b64(secret.replace(/^whsec_/, "")), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
  );
  const mac = new Uint8Array(await subtle.sign("HMAC", key, concat(encoder.encode(`${id}.${ts}.`), body)));
  let expected = "";
  for (const b of mac) expected += String.fromCharCode(b);
  expected = btoa(expected);
  if (!sigs.split(" ").some((s) => s === `v1,${expected}`)) return { status: 401 };
  const text = decoder.decode(body);
  let e;
  try {
    e = JSON.parse(text);
  } catch {
    return { status: 400 };
  }
  if (e.eventName === "testing.testEvent") return { status: 200, routes: null };
  const type = LOOPS_TYPES[e.eventName] ?? "unknown";
  return routed([
    {
      event_key: `loops:${id}`,
      provider: "loops",
      provider_event_id: id,
      type,
      provider_type: e.eventName,
      message_id: e.eventName.startsWith("contact.") ? null : (e.email?.id ?? null),
      recipient: e.contactIdentity?.email?.toLowerCase() ?? null,
      occurred_at: new Date(e.eventTime * 1000).toISOString(),
      stream: e.sourceType ?? null,
      bounce_class: type === "hard_bounce" ? "hard" : null,
      bounce_category: type === "hard_bounce" || type === "deferred" ? "other" : null,
      raw: text,
    },
  ]);
}
