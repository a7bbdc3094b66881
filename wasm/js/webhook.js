// handleWebhook: verify, normalize and route one webhook request (core's `webhook` op), with
// ECDSA signatures (SendGrid) checked by the runtime's own WebCrypto when it has one.
//
// Core keeps every rule: it reads the headers, checks the timestamp tolerance, parses the
// keys, decodes the DER signature and says which bytes are signed (WebhookCall); only the
// signature math runs here, and its answer goes back to core, which chooses the status. Without
// WebCrypto, or if it fails, the same call runs with the math in wasm (handleWebhookSync):
// the answers are the same either way.

import { WebhookCall, handleWebhookSync } from "./mailstate.js";

const subtle = globalThis.crypto?.subtle;
const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" };
const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" };

// Imported keys, by the key text as configured (a worker configures a handful; the cap only
// guards against a caller that sends a new key on every call).
const keyCache = new Map();
const KEY_CACHE_MAX = 64;

function importKey(text, raw) {
  let key = keyCache.get(text);
  if (key === undefined) {
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    key = subtle.importKey("raw", raw, ECDSA_P256, false, ["verify"]);
    keyCache.set(text, key);
    // A key that failed to import is not kept.
    key.catch(() => keyCache.delete(text));
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
    if (call.algorithm !== "ecdsa_p256_sha256") return call.finish(undefined);
    let accepted;
    try {
      accepted = await verifyWithSubtle(call, options.verify.keys);
    } catch {
      // WebCrypto could not run the check (an engine without P-256, say): wasm runs it.
      return handleWebhookSync(provider, request, options);
    }
    return call.finish(accepted);
  } finally {
    call.free();
  }
}

/** The index (among `keys`) of the first candidate key the signature verifies under, if any. */
async function verifyWithSubtle(call, keys) {
  const signature = call.signature;
  const message = call.message;
  for (let i = 0; i < call.keyCount; i++) {
    const index = call.keyIndex(i);
    const key = await importKey(keys[index], call.key(i));
    if (await subtle.verify(ECDSA_SHA256, key, signature, message)) return index;
  }
  return undefined;
}
