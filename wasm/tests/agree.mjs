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

const bytes = (c) =>
  c.body_base64 !== undefined
    ? Uint8Array.from(atob(c.body_base64), (ch) => ch.charCodeAt(0))
    : new TextEncoder().encode(c.body);

/** `{sync, async, webcryptoCalls}` for one case `{provider, headers, body | body_base64,
 * options, lie?, fetchHeaders?}`; with `fetchHeaders` the headers are given as a Fetch
 * `Headers`, as a worker receives them (only the names core lists are read from it), and
 * `plain` is handleWebhookSync's answer with them as a plain object (every header read). */
export async function playCase(api, c) {
  const body = bytes(c);
  const request = { headers: c.fetchHeaders ? new Headers(c.headers) : c.headers, body };
  const sync = await outcome(() => api.handleWebhookSync(c.provider, request, c.options));
  const before = verifyCalls;
  lying = c.lie === true;
  let viaAsync;
  try {
    viaAsync = await outcome(() => api.handleWebhook(c.provider, request, c.options));
  } finally {
    lying = false;
  }
  const out = { sync, async: viaAsync, webcryptoCalls: verifyCalls - before };
  if (c.fetchHeaders) {
    out.plain = await outcome(() => api.handleWebhookSync(c.provider, { headers: c.headers, body }, c.options));
  }
  return out;
}

/**
 * One webhook call `{provider, headers, body | body_base64, options}` with its headers as a
 * Fetch `Headers` (read a name at a time, only the names core lists) and as a plain object
 * holding every header of that `Headers` (read whole), through both functions: `null` when
 * Fetch refuses the headers. The four answers must be one.
 */
export async function playHeaderShapes(api, c) {
  let headers;
  try {
    headers = new Headers(c.headers);
  } catch {
    return null;
  }
  const body = bytes(c);
  const object = Object.fromEntries(headers);
  return {
    headersSync: await outcome(() => api.handleWebhookSync(c.provider, { headers, body }, c.options)),
    headersAsync: await outcome(() => api.handleWebhook(c.provider, { headers, body }, c.options)),
    objectSync: await outcome(() => api.handleWebhookSync(c.provider, { headers: object, body }, c.options)),
    objectAsync: await outcome(() => api.handleWebhook(c.provider, { headers: object, body }, c.options)),
  };
}
