// Play one signed-webhook case through both JavaScript paths, handleWebhook (public-key
// signatures checked by the runtime's WebCrypto) and handleWebhookSync (checked in wasm),
// counting the WebCrypto
// verifications so a test can tell the WebCrypto path really ran. No Node imports: the
// workerd test worker uses this file too.

/** Count `crypto.subtle.verify` calls (the runtime's own method, wrapped once). */
let verifyCalls = 0;
let lying = false;
const subtle = globalThis.crypto.subtle;
const original = subtle.verify;
subtle.verify = function (...args) {
  verifyCalls++;
  // A case with `lie: true` proves the answer WebCrypto gives is the one core uses.
  return lying ? Promise.resolve(false) : original.apply(this, args);
};

const outcome = async (f) => {
  try {
    return { result: await f() };
  } catch (e) {
    return { thrown: { code: e?.code, message: String(e?.message ?? e) } };
  }
};

/** `{sync, async, webcryptoCalls}` for one case `{provider, headers, body | body_base64,
 * options, lie?}`. */
export async function playCase(api, c) {
  const body =
    c.body_base64 !== undefined
      ? Uint8Array.from(atob(c.body_base64), (ch) => ch.charCodeAt(0))
      : new TextEncoder().encode(c.body);
  const request = { headers: c.headers, body };
  const sync = await outcome(() => api.handleWebhookSync(c.provider, request, c.options));
  const before = verifyCalls;
  lying = c.lie === true;
  let viaAsync;
  try {
    viaAsync = await outcome(() => api.handleWebhook(c.provider, request, c.options));
  } finally {
    lying = false;
  }
  return { sync, async: viaAsync, webcryptoCalls: verifyCalls - before };
}
