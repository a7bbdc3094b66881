// handleWebhook: verify, normalize and route one webhook request (core's `webhook` op), with
// public-key signatures (SendGrid's ECDSA, Postal's and SNS's RSA) checked by the runtime's
// own WebCrypto when it has one.
//
// Core keeps every rule: it reads the headers, checks the timestamp tolerance, parses the
// keys, decodes the signature and says which bytes are signed (WebhookCall); only the
// signature math runs here, and its answer goes back to core, which chooses the status. Without
// WebCrypto, or if it fails, the same call runs with the math in wasm (handleWebhookSync):
// the answers are the same either way.

import { WebhookCall, handleWebhookSync } from "./mailstate.js";

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
 * Verify, normalize and route one webhook request, and say which HTTP status to answer with.
 * Resolves to the same result as `handleWebhookSync`; rejects only for the caller's own
 * mistakes (a malformed policy, no `verify` option, a body that is not bytes or text).
 */
export async function handleWebhook(provider, request, options) {
  if (subtle === undefined) return handleWebhookSync(provider, request, options);
  const call = new WebhookCall(provider, request, options);
  try {
    const algorithm = call.algorithm;
    if (ALGORITHMS[algorithm] === undefined) return call.finish(undefined);
    let accepted;
    try {
      accepted = await verifyWithSubtle(call, algorithm, options.verify.keys);
    } catch {
      // WebCrypto could not run the check (a key or curve it does not take): wasm runs it.
      return handleWebhookSync(provider, request, options);
    }
    return call.finish(accepted);
  } finally {
    call.free();
  }
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
