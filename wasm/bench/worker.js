// The benchmark worker: POST /bench?n=K&mode=M runs K times, on the request it received,
//   mode=webhook  handleWebhook with verification (the signature by WebCrypto, normalize + route in wasm),
//   mode=wasm     handleWebhookSync with verification (everything in wasm, the signature too),
//   mode=plain    handleWebhookSync with `verify: null` (normalize + route),
//   mode=verify   verify alone (in wasm).
// workerd freezes its clocks during synchronous work, so the time is taken outside, from Node.
// GET /ping is the empty round trip.

import { handleWebhook, handleWebhookSync, verify } from "../pkg/workerd.js";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/ping") return new Response("pong");
    const n = Number(url.searchParams.get("n") ?? "1");
    const mode = url.searchParams.get("mode") ?? "webhook";
    const options = { keys: [env.SENDGRID_PUBLIC_KEY], now: Math.floor(Date.now() / 1000) };
    const body = new Uint8Array(await request.arrayBuffer());
    let answer = null;
    for (let i = 0; i < n; i++) {
      if (mode === "verify") {
        const text = new TextDecoder().decode(body);
        const headers = Object.fromEntries(request.headers);
        answer = verify({ provider: "sendgrid", headers, body: text, ...options });
      } else {
        const req = { headers: request.headers, body };
        const result =
          mode === "webhook"
            ? await handleWebhook("sendgrid", req, { verify: options })
            : handleWebhookSync("sendgrid", req, { verify: mode === "plain" ? null : options });
        const events = Object.values(result.routes).reduce((a, r) => a + r.length, 0);
        answer = { status: result.status, events, error: result.error };
      }
    }
    return Response.json(answer);
  },
};
