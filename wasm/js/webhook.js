// handleWebhook: verify, normalize and route one webhook request (core's `webhook` op), with
// public-key signatures (SendGrid's ECDSA, Postal's and SNS's RSA) checked by the runtime's
// own WebCrypto when it has one.
//
// Core keeps every rule: it reads the headers, checks the timestamp tolerance, parses the
// keys, decodes the signature and says which bytes are signed (WebhookCall); only the
// signature math runs here, and its answer goes back to core, which chooses the status. Without
// WebCrypto, or if it fails, the same call runs with the math in wasm (handleWebhookSync):
// the answers are the same either way.
//
// Both functions are built for many calls: the options are read into wasm once per options
// text (WebhookSettings, cached by their JSON.stringify text, so a changed option is read
// again), a Fetch `Headers` is asked only for the headers core says the call reads
// (WebhookSettings.headerNames), the headers cross as one string, the body bytes are copied
// once, and the result comes back as its strings in one text plus their lengths
// (WebhookCall.finish and tape), from which `decode` builds the result's objects: no JSON is
// written or parsed for the events. Inputs of unusual shapes (headers that are not strings, a
// body of another type) take the general reader in wasm, which gives the same answers and the
// same errors.

import { WebhookCall, WebhookSettings } from "./mailstate.js";

const subtle = globalThis.crypto?.subtle;

/** Core's algorithm names, as WebCrypto imports and runs them. */
const ALGORITHMS = {
  ecdsa_p256_sha256: {
    format: "raw",
    key: { name: "ECDSA", namedCurve: "P-256" },
    verify: { name: "ECDSA", hash: "SHA-256" },
  },
  rsa_pkcs1v15_sha256: {
    format: "spki",
    key: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    verify: { name: "RSASSA-PKCS1-v1_5" },
  },
  rsa_pkcs1v15_sha1: {
    format: "spki",
    key: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-1" },
    verify: { name: "RSASSA-PKCS1-v1_5" },
  },
};

// Imported keys, by algorithm and key text as configured (a worker configures a handful; the
// cap only guards against a caller that sends a new key on every call).
const keyCache = new Map();
const KEY_CACHE_MAX = 64;

function importKey(algorithm, text, bytes) {
  const id = `${algorithm}\n${text}`;
  let key = keyCache.get(id);
  if (key === undefined) {
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    const a = ALGORITHMS[algorithm];
    key = subtle.importKey(a.format, bytes, a.key, false, ["verify"]);
    keyCache.set(id, key);
    // A key that failed to import is not kept.
    key.catch(() => keyCache.delete(id));
  }
  return key;
}

/**
 * Verify, normalize and route one webhook request, and say which HTTP status to answer with,
 * with the signature checked in wasm. Same answers and errors as the wasm export of the same
 * name (the `./web` entry point's), read and answered with less copying.
 */
export function handleWebhookSync(provider, request, options) {
  const call = open(provider, request, options, false);
  if (!(call instanceof WebhookCall)) return call;
  try {
    return finish(call, undefined);
  } finally {
    call.free();
  }
}

/**
 * Verify, normalize and route one webhook request, and say which HTTP status to answer with.
 * Resolves to the same result as `handleWebhookSync`; rejects only for the caller's own
 * mistakes (a malformed policy, no `verify` option, a body that is not bytes or text).
 */
export async function handleWebhook(provider, request, options) {
  if (subtle === undefined) return handleWebhookSync(provider, request, options);
  const call = open(provider, request, options, true);
  if (!(call instanceof WebhookCall)) return call;
  try {
    const algorithm = call.algorithm;
    if (algorithm === undefined || ALGORITHMS[algorithm] === undefined) return finish(call, undefined);
    let accepted;
    try {
      accepted = await verifyWithSubtle(call, algorithm, options.verify.keys);
    } catch {
      // WebCrypto could not run the check (a key or curve it does not take): wasm runs it.
      return handleWebhookSync(provider, request, options);
    }
    return finish(call, accepted);
  } finally {
    call.free();
  }
}

// Options read into wasm, by their JSON text: `{settings, names}`, `names` the headers a call
// reads, by provider (null: every header). A worker uses a handful (its `now` changes once a
// second); the cap only guards against a caller whose options differ on every call. A call in
// flight keeps its own reference, so dropping an entry never pulls options from under it.
const settingsCache = new Map();
const FetchHeaders = globalThis.Headers;
const SETTINGS_MAX = 16;

/**
 * The call's inputs read into wasm: the fast reader when their shapes allow, else the general
 * one. The fast reader answers at once (the result) unless, with `host`, a signature is left
 * for WebCrypto: then, as from the general reader, the `WebhookCall` to finish (and free).
 */
function open(provider, request, options, host) {
  let text;
  try {
    text = options === undefined || options === null ? "{}" : JSON.stringify(options);
  } catch {
    text = undefined;
  }
  const body = typeof request === "object" && request !== null ? request.body : undefined;
  const isText = typeof body === "string";
  const bytes = isText ? undefined : body instanceof Uint8Array ? body : body instanceof ArrayBuffer ? new Uint8Array(body) : undefined;
  if (typeof text !== "string" || (!isText && bytes === undefined)) {
    // The general reader (and its errors, in the order it finds them).
    return new WebhookCall(provider, request, options, host);
  }
  // Read first, as the general reader does, so malformed options throw before anything else.
  let entry = settingsCache.get(text);
  if (entry === undefined) {
    entry = { settings: new WebhookSettings(text), names: new Map() };
    if (settingsCache.size >= SETTINGS_MAX) {
      for (const e of settingsCache.values()) e.settings.free();
      settingsCache.clear();
    }
    settingsCache.set(text, entry);
  }
  const headers = headerText(request.headers, entry, provider);
  if (headers === undefined) return new WebhookCall(provider, request, options, host);
  const out = entry.settings.run(provider, headers, bytes, isText ? body : undefined, host);
  return out === undefined ? WebhookCall.takePending() : decode(out, WebhookCall.takeTape());
}

/**
 * The only headers a call for `provider` reads, `[name, unless, name, unless, …]` (lower-case;
 * `unless` the header whose presence makes the name irrelevant, or ""), or null for all.
 */
function headerNames(entry, provider) {
  let names = entry.names.get(provider);
  if (names === undefined) {
    const text = typeof provider === "string" ? entry.settings.headerNames(provider) : undefined;
    names = text === undefined ? null : text === "" ? [] : text.split("\0");
    entry.names.set(provider, names);
  }
  return names;
}

/**
 * Headers as `name\0value\0…` (the general reader's pairs: a `Headers`, a `Map`, pairs or a
 * plain object; a later repeat of a name wins, as there), or `undefined` when a name or value
 * is not a string or holds a NUL (left to the general reader).
 */
function headerText(headers, entry, provider) {
  if (headers === undefined || headers === null) return "";
  if (typeof headers !== "object") return undefined;
  let out = "";
  let first = true;
  const add = (name, value) => {
    if (typeof name !== "string" || typeof value !== "string" || name === "__proto__") return false;
    if (name.includes("\0") || value.includes("\0")) return false;
    out += first ? `${name}\0${value}` : `\0${name}\0${value}`;
    first = false;
    return true;
  };
  if (FetchHeaders !== undefined && headers instanceof FetchHeaders) {
    // Fetch's Headers: names and values are strings without NUL, names compared without case,
    // a name's values joined by `get` as by `forEach`. Only the headers core reads are asked
    // for (a `get` each, where `forEach` visits every header: 6 µs a request in workerd), and
    // not those made irrelevant by one found before (core lists conditions first).
    const names = headerNames(entry, provider);
    if (names !== null) {
      const found = [];
      for (let i = 0; i < names.length; i += 2) {
        const name = names[i];
        const unless = names[i + 1];
        if (unless !== "" && found.includes(unless)) continue;
        let value;
        try {
          value = headers.get(name);
        } catch {
          // A name Fetch refuses (a configured token header that is not an HTTP token) is
          // in no `Headers`.
          continue;
        }
        if (value === null) continue;
        out += first ? `${name}\0${value}` : `\0${name}\0${value}`;
        first = false;
        found.push(name);
      }
      return out;
    }
    // forEach is cheaper than the iterator in workerd; both visit the same (lower-cased,
    // combined) entries in the same order.
    headers.forEach((value, name) => {
      out += first ? `${name}\0${value}` : `\0${name}\0${value}`;
      first = false;
    });
  } else if (typeof headers[Symbol.iterator] === "function") {
    for (const pair of headers) {
      if (typeof pair !== "object" || pair === null || !add(pair[0], pair[1])) return undefined;
    }
  } else {
    for (const name of Object.keys(headers)) if (!add(name, headers[name])) return undefined;
  }
  return out;
}

/** Run the call (with the host's verdict, if it checked) and build its result. */
function finish(call, accepted) {
  const text = call.finish(accepted);
  return decode(text, call.tape());
}

const NONE = 0xffffffff;

/**
 * The result from `WebhookCall.finish`'s text and `tape` (see `encode` in src/js.rs): the head
 * (every member but `routes`) is JSON, or only a status and `verified` when every other member
 * is empty; each event's strings are slices of the text, in the
 * output's key order.
 */
function decode(text, tape) {
  let t = 1;
  let at = 0;
  let head;
  if (tape[0] === NONE) {
    head = { confirm_url: null, control: null, error: null, errors: [], status: tape[1], verified: tape[2] === 1 };
    t = 3;
  } else {
    at = tape[0];
    head = JSON.parse(text.slice(0, at));
  }
  const str = () => {
    const n = tape[t++];
    if (n === NONE) return null;
    const s = text.slice(at, at + n);
    at += n;
    return s;
  };
  const list = () => {
    const out = [];
    for (let n = tape[t++]; n > 0; n--) out.push(str());
    return out;
  };
  const map = () => {
    const out = {};
    for (let n = tape[t++]; n > 0; n--) {
      const k = str();
      const v = str();
      // As JSON.parse makes it: an own property, even for `__proto__`.
      if (k === "__proto__") Object.defineProperty(out, k, { value: v, writable: true, enumerable: true, configurable: true });
      else out[k] = v;
    }
    return out;
  };
  const events = () => {
    const out = [];
    for (let n = tape[t++]; n > 0; n--) {
      out.push({
        automated: str(),
        bounce_category: str(),
        bounce_class: str(),
        diagnostic: str(),
        enhanced_status: str(),
        event_key: str(),
        ip: str(),
        message_id: str(),
        metadata: map(),
        occurred_at: str(),
        provider: str(),
        provider_event_id: str(),
        provider_type: str(),
        raw: str(),
        recipient: str(),
        smtp_message_id: str(),
        smtp_status: str(),
        stream: str(),
        tags: list(),
        type: str(),
        url: str(),
        user_agent: str(),
      });
    }
    return out;
  };
  const routes = { analytics: events(), drop: events(), state: events(), suppress: events() };
  const result = {
    confirm_url: head.confirm_url,
    control: head.control,
    error: head.error,
    errors: head.errors,
    routes,
    status: head.status,
    verified: head.verified,
  };
  // `answer` is there (first) only for the handshakes that need one (Event Grid, CloudEvents
  // OPTIONS).
  return head.answer === undefined ? result : { answer: head.answer, ...result };
}

/** The index (among `keys`) of the first candidate key the signature verifies under, if any. */
async function verifyWithSubtle(call, algorithm, keys) {
  const signature = call.signature;
  const message = call.message;
  for (let i = 0; i < call.keyCount; i++) {
    const index = call.keyIndex(i);
    const key = await importKey(algorithm, keys[index], call.key(i));
    if (await subtle.verify(ALGORITHMS[algorithm].verify, key, signature, message)) return index;
  }
  return undefined;
}
