// Play one wire op through the typed function of the JavaScript API (no Node imports: the
// workerd test worker uses this file too). Resolves to an envelope-shaped value, or null when
// the op has no typed function.

/** The typed JS functions for each wire op: the op `webhook` has two, `handleWebhook` (async,
 * WebCrypto for ECDSA) and `handleWebhookSync` (everything in wasm), and both are played. */
export const typedVariants = (op) => (op === "webhook" ? ["async", "sync"] : ["default"]);

/** The typed JS function for each wire op, with how to call it from the vector's input. */
export async function typedCall(api, op, input, variant = "default") {
  const simple = {
    normalize: api.normalize,
    verify: api.verify,
    event_key: api.eventKey,
    reduce: api.reduce,
    apply: api.applyEvent,
    merge: api.mergeStates,
    view: api.viewState,
    suppressions: api.suppressions,
    route: api.route,
  };
  let run;
  if (op === "webhook") {
    // handleWebhook takes the request as bytes, as a worker receives it.
    const { provider, headers, body, body_base64, ...options } = input ?? {};
    const bytes =
      body_base64 !== undefined ? Uint8Array.from(atob(body_base64), (c) => c.charCodeAt(0)) : body;
    const handle = variant === "sync" ? api.handleWebhookSync : api.handleWebhook;
    run = () => handle(provider, { headers, body: bytes ?? null }, options);
  } else if (simple[op]) {
    run = () => simple[op](input);
  } else {
    return null;
  }
  try {
    return { output: await run() };
  } catch (e) {
    if (typeof e?.code !== "string") throw e;
    return { error: { code: e.code, message: e.message } };
  }
}
