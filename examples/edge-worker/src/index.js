// A Cloudflare Worker that receives email-provider webhooks at POST /webhooks/:provider and
// pre-filters them at the edge with mailstate's rules (the `mailstate` npm package, built from
// wasm/ by scripts/build-js.sh):
//
//   1. verify the signature or credentials (key material from env bindings, never logged);
//   2. normalize to canonical events and route them (suppress / state / analytics / drop);
//   3. drop duplicates: event keys seen before are kept in the SEEN KV namespace;
//   4. forward `suppress` events at once (POST to SUPPRESS_URL) and batch `state` and
//      `analytics` events into queues (one sendBatch per request; the queue consumer batches
//      further across requests);
//   5. answer with the status core chose, so the provider retries exactly when retrying can
//      help: 2xx stored or ignored, 401 forged or stale, 400 malformed, 5xx our failure.
//
// Which status means what, and every other rule, lives in core (the `webhook` op); this file
// only does the I/O around it.

import { handleWebhook, route } from "mailstate";

// Seen event keys live 72 h: longer than every provider's retry window, so a retry always
// finds its key. SendGrid retries for up to 24 h after the event, Resend/Svix for about 28 h
// (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), Postmark about 10.5 h, Mailgun and SparkPost 8 h,
// Brevo about 11 h, SNS at most 1 h (providers.md, "Retries and pull retention"); SMTP2GO 48 h,
// Mailtrap 40 x 5 min, AhaSend about 16 min (providers-wave2.md).
const SEEN_TTL_SECS = 72 * 3600;

// SNS signing certificates are fetched from the URL in the message; only from SNS's own
// hosts (core checks the same rule again when verifying), and cached per isolate.
const SNS_CERT_URL = /^https:\/\/sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/[^?#]*\.pem$/;
// Scaleway Topics and Events signs like SNS, with certificates on its own hosts (core checks
// the same rule again). Scaleway asks receivers to trust its CA, not the certificate: core
// checks that the fetched certificate was issued by the CA given in SCALEWAY_TRUST_CHAIN.
const SCALEWAY_CERT_URL = /^https:\/\/([a-z0-9-]+\.)+(scw\.cloud|scaleway\.com)\/[^?#]*$/;
const certCache = new Map();

/** The signing certificate named by an SNS-style body, fetched once per isolate, or undefined. */
async function signingCertificate(bodyText, allowed) {
  let certUrl;
  try {
    certUrl = JSON.parse(bodyText).SigningCertURL;
  } catch {
    certUrl = undefined;
  }
  if (typeof certUrl !== "string" || !allowed.test(certUrl)) return undefined;
  let cert = certCache.get(certUrl);
  if (cert === undefined) {
    const res = await fetch(certUrl);
    if (!res.ok) throw new Error(`signing certificate fetch answered ${res.status}`);
    cert = await res.text();
    certCache.set(certUrl, cert);
  }
  return cert;
}

// Methods other than POST, per provider: Elastic Email notifies with a GET (the event in the
// query string), Unisender Go probes the URL with a GET when the webhook is set, and Event
// Grid's CloudEvents handshake is an OPTIONS.
const OTHER_METHODS = { elastic_email: ["GET"], unisender_go: ["GET"], azure_acs: ["OPTIONS"] };

const json = (status, body) => Response.json(body, { status });

/** Split an env value holding one or several keys/secrets (comma or newline separated). */
function list(value) {
  return (value ?? "")
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The options of core's verify op for this provider, `null` to skip verification (only for
 * providers listed in UNVERIFIED_PROVIDERS, e.g. an internal source behind Cloudflare Access),
 * or `undefined` when the provider is not configured (no such endpoint).
 */
async function verifyOptions(provider, env, request, bodyText) {
  if (list(env.UNVERIFIED_PROVIDERS).includes(provider)) return null;
  const base = { now: Math.floor(Date.now() / 1000) };
  if (env.SIGNATURE_TOLERANCE_SECS) base.tolerance_secs = Number(env.SIGNATURE_TOLERANCE_SECS);
  if (list(env.STANDARD_WEBHOOKS_PROVIDERS).includes(provider)) {
    // A sender that signs with Standard Webhooks instead of its own scheme (a relay, a
    // white-label setup): whsec_ secrets and/or whpk_ public keys.
    const secrets = list(env[`${provider.toUpperCase()}_SECRET`]);
    const keys = list(env[`${provider.toUpperCase()}_PUBLIC_KEY`]);
    return secrets.length || keys.length ? { ...base, scheme: "standard_webhooks", secrets, keys } : undefined;
  }
  switch (provider) {
    case "sendgrid":
      // The public key(s) SendGrid shows, base64 DER or PEM; several for several configurations.
      return env.SENDGRID_PUBLIC_KEY ? { ...base, keys: list(env.SENDGRID_PUBLIC_KEY) } : undefined;
    case "postal":
      return env.POSTAL_PUBLIC_KEY ? { ...base, keys: [env.POSTAL_PUBLIC_KEY] } : undefined;
    case "resend":
    case "mailgun":
    case "mailersend":
    case "mailtrap":
    case "ahasend": {
      const secrets = list(env[`${provider.toUpperCase()}_SECRET`]);
      return secrets.length ? { ...base, secrets } : undefined;
    }
    case "loops": {
      // Standard Webhooks: whsec_ secrets (v1, HMAC) and/or whpk_ public keys (v1a, Ed25519).
      const secrets = list(env.LOOPS_SECRET);
      const keys = list(env.LOOPS_PUBLIC_KEY);
      return secrets.length || keys.length ? { ...base, secrets, keys } : undefined;
    }
    case "mandrill": {
      const secrets = list(env.MANDRILL_SECRET);
      if (!secrets.length) return undefined;
      // Mandrill signs the URL as configured there, and the form parameters.
      const url = env.MANDRILL_WEBHOOK_URL ?? request.url;
      const form = Object.fromEntries(new URLSearchParams(bodyText));
      return { ...base, secrets, url, form };
    }
    case "postmark":
    case "sparkpost":
    case "mailjet":
    case "brevo":
    case "smtp2go":
    case "zeptomail": {
      // No signature: the credential the provider sends (basic auth, bearer or a token header).
      const secrets = list(env[`${provider.toUpperCase()}_CREDENTIAL`]);
      if (!secrets.length) return undefined;
      const tokenHeader = env[`${provider.toUpperCase()}_TOKEN_HEADER`];
      return tokenHeader ? { ...base, secrets, token_header: tokenHeader } : { ...base, secrets };
    }
    case "ses":
    case "scaleway": {
      if (env[`${provider.toUpperCase()}_ENABLED`] !== "true") return undefined;
      const cert = await signingCertificate(
        bodyText,
        provider === "ses" ? SNS_CERT_URL : SCALEWAY_CERT_URL,
      );
      // Without a fetchable certificate, let core reject the request (no keys: unknown_key).
      const keys = cert === undefined ? [] : [cert];
      if (provider === "ses") return { ...base, keys };
      // Scaleway: the CA its signing certificates must chain to (core refuses without it).
      return { ...base, keys, trust_anchors: env.SCALEWAY_TRUST_CHAIN ? [env.SCALEWAY_TRUST_CHAIN] : [] };
    }
    case "ses_eventbridge":
    case "azure_acs":
    case "elastic_email": {
      // No signature: the API destination's credential (basic, API-key header, bearer), or a
      // secret in the endpoint URL's query string, which core finds among the URL's parameters.
      const secrets = list(env[`${provider.toUpperCase()}_CREDENTIAL`]);
      if (!secrets.length) return undefined;
      const tokenHeader = env[`${provider.toUpperCase()}_TOKEN_HEADER`];
      const opts = { ...base, secrets, url: request.url };
      return tokenHeader ? { ...opts, token_header: tokenHeader } : opts;
    }
    case "unisender_go": {
      // The API key: the body's `auth` is MD5 of the body with `auth` replaced by it.
      const secrets = list(env.UNISENDER_GO_SECRET);
      return secrets.length ? { ...base, secrets } : undefined;
    }
    default:
      return undefined;
  }
}

async function handle(provider, request, env) {
  // Elastic Email's GET carries its event in the query string: that is the body core reads.
  // Any other GET (Unisender Go's probe) or OPTIONS has no body, whatever its query.
  let body;
  if (request.method === "GET" && provider === "elastic_email") {
    body = new TextEncoder().encode(new URL(request.url).search.replace(/^\?/, ""));
  } else if (request.method === "GET" || request.method === "OPTIONS") {
    body = new Uint8Array(0);
  } else {
    body = new Uint8Array(await request.arrayBuffer());
  }
  const bodyText = new TextDecoder().decode(body);
  let verify;
  try {
    verify = await verifyOptions(provider, env, request, bodyText);
  } catch (e) {
    // Could not get the key material (a certificate fetch failed): retry later.
    return json(503, { error: "verification unavailable", detail: String(e.message ?? e) });
  }
  if (verify === undefined) return json(404, { error: `no webhook endpoint for ${provider}` });

  // Public-key signatures (SendGrid, Postal, SNS) are checked with the Workers runtime's
  // WebCrypto, the rest in wasm; core keeps the rules and chooses the status.
  const result = await handleWebhook(provider, { headers: request.headers, body }, { verify });
  if (result.status < 200 || result.status >= 300) {
    return json(result.status, { error: result.error?.code, message: result.error?.message });
  }

  if (result.answer) {
    // A handshake that needs an exact answer (Event Grid's validation code, the CloudEvents
    // WebHook-Allowed-Origin): core wrote it.
    return new Response(result.answer.body, {
      status: result.answer.status,
      headers: result.answer.headers,
    });
  }
  if (result.confirm_url) {
    // An SNS (or Scaleway) subscription confirmation, verified above: visit the URL to confirm it.
    const res = await fetch(result.confirm_url);
    if (!res.ok) return json(502, { error: "subscription confirmation failed" });
    return json(200, { confirmed: true });
  }
  if (result.control) return json(200, { control: result.control.kind });

  // Duplicates across requests: ask KV which of the fresh keys were seen, and let core route
  // them again with that knowledge (in-batch duplicates are already in `drop`).
  const fresh = [...result.routes.suppress, ...result.routes.state, ...result.routes.analytics];
  const seenFlags = await Promise.all(fresh.map((e) => env.SEEN.get(e.event_key)));
  const seen = fresh.filter((_, i) => seenFlags[i] !== null).map((e) => e.event_key);
  const groups = { suppress: [], state: [], analytics: [], drop: [...result.routes.drop] };
  if (seen.length === 0) {
    for (const name of ["suppress", "state", "analytics"]) groups[name] = result.routes[name];
  } else {
    const decisions = route({ events: fresh, seen });
    decisions.forEach((d, i) => groups[d.route].push(fresh[i]));
  }

  try {
    const sends = [];
    if (groups.suppress.length) {
      // Suppressions go on now: a complaint must stop the next send, not the next batch.
      sends.push(
        fetch(env.SUPPRESS_URL, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ events: groups.suppress }),
        }).then((res) => {
          if (!res.ok) throw new Error(`suppression endpoint answered ${res.status}`);
        }),
      );
    }
    for (const [name, queue] of [["state", env.STATE_QUEUE], ["analytics", env.ANALYTICS_QUEUE]]) {
      if (groups[name].length && queue) {
        sends.push(queue.sendBatch(groups[name].map((event) => ({ body: event }))));
      }
    }
    await Promise.all(sends);
  } catch (e) {
    // Nothing recorded as seen: the provider's retry brings these events again.
    return json(503, { error: "forwarding failed", detail: String(e.message ?? e) });
  }

  // Record the keys only once the events are safely forwarded.
  const forwarded = [...groups.suppress, ...groups.state, ...groups.analytics];
  await Promise.all(
    forwarded.map((e) => env.SEEN.put(e.event_key, "1", { expirationTtl: SEEN_TTL_SECS })),
  );
  return json(200, {
    accepted: forwarded.length,
    dropped: groups.drop.length,
    errors: result.errors.length,
  });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const match = url.pathname.match(/^\/webhooks\/([a-z0-9_-]+)\/?$/);
    if (!match) return json(404, { error: "not found" });
    const methods = ["POST", ...(OTHER_METHODS[match[1]] ?? [])];
    if (!methods.includes(request.method)) {
      return new Response(null, { status: 405, headers: { allow: methods.join(", ") } });
    }
    return handle(match[1], request, env);
  },
};
