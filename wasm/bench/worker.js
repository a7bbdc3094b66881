// The benchmark worker: POST /bench?n=K runs handleWebhook K times on the request it received
// (workerd freezes timers during synchronous work, so the time is taken outside, from Node);
// GET /ping is the empty round trip.

import { handleWebhook } from "../pkg/workerd.js";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/ping") return new Response("pong");
    const n = Number(url.searchParams.get("n") ?? "1");
    const verify = url.searchParams.get("verify") === "0"
      ? null
      : { keys: [env.SENDGRID_PUBLIC_KEY], now: Math.floor(Date.now() / 1000) };
    const body = new Uint8Array(await request.arrayBuffer());
    let result = { status: 0, routes: {} };
    for (let i = 0; i < n; i++) {
      result = handleWebhook("sendgrid", { headers: request.headers, body }, { verify });
    }
    const events = Object.values(result.routes).reduce((a, r) => a + r.length, 0);
    return Response.json({ status: result.status, events, error: result.error });
  },
};
