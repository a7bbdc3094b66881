// The benchmark worker: POST /bench?n=K&mode=M runs K times, on the request it received,
//   mode=webhook  handleWebhook with verification (the signature by WebCrypto, normalize + route in wasm),
//   mode=wasm     handleWebhookSync with verification (everything in wasm, the signature too),
//   mode=plain    handleWebhookSync with `verify: null` (normalize + route),
//   mode=verify   verify alone (in wasm),
//   mode=hand     the hand-written SendGrid handler (hand.js), the baseline of `webhook`;
// and on a Loops body (a JSON array of 100 signed requests `{headers, body}`, since Loops sends
// one event per request), for each of the 100:
//   mode=loops      handleWebhook("loops", …) (Standard Webhooks HMAC, normalize, route: all in wasm),
//   mode=loopsplain handleWebhookSync("loops", …) with `verify: null` (normalize + route),
//   mode=loopsplainobj  the same with the headers given as a plain object (made beforehand),
//                   to tell what reading a `Headers` across the wasm boundary costs,
//   mode=loopshand  the hand-written Loops handler (hand.js), the baseline of `loops`.
// workerd freezes its clocks during synchronous work, so the time is taken outside, from Node.
// GET /ping is the empty round trip.

import { handleWebhook, handleWebhookSync, verify } from "../pkg/workerd.js";
import { loopsByHand, sendgridByHand } from "./hand.js";

const encoder = new TextEncoder();

/** A compact answer that both kinds of handler give alike: status and routed counts. */
function summary(result) {
  const routes = result.routes ?? {};
  const counts = Object.fromEntries(Object.entries(routes).map(([k, v]) => [k, v.length]));
  const events = Object.values(counts).reduce((a, n) => a + n, 0);
  return { status: result.status, events, counts, error: result.error?.code };
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/ping") return new Response("pong");
    const n = Number(url.searchParams.get("n") ?? "1");
    const mode = url.searchParams.get("mode") ?? "webhook";
    const now = Math.floor(Date.now() / 1000);
    const options = { keys: [env.SENDGRID_PUBLIC_KEY], now };
    const body = new Uint8Array(await request.arrayBuffer());
    let answer = null;
    if (mode.startsWith("loops")) {
      const requests = JSON.parse(new TextDecoder().decode(body)).map((r) => ({
        headers: new Headers(r.headers),
        plain: r.headers,
        body: encoder.encode(r.body),
      }));
      const verifyLoops = { secrets: [env.LOOPS_SECRET], now };
      for (let i = 0; i < n; i++) {
        const results = [];
        for (const req of requests) {
          results.push(
            mode === "loops"
              ? await handleWebhook("loops", req, { verify: verifyLoops })
              : mode === "loopsplain"
                ? handleWebhookSync("loops", req, { verify: null })
                : mode === "loopsplainobj"
                ? handleWebhookSync("loops", { headers: req.plain, body: req.body }, { verify: null })
                : await loopsByHand(req.headers, req.body, env.LOOPS_SECRET, now),
          );
        }
        const all = results.map(summary);
        answer = {
          status: Math.max(...all.map((s) => s.status)),
          events: all.reduce((a, s) => a + s.events, 0),
          counts: all.reduce((acc, s) => {
            for (const [k, v] of Object.entries(s.counts)) acc[k] = (acc[k] ?? 0) + v;
            return acc;
          }, {}),
        };
      }
      return Response.json(answer);
    }
    for (let i = 0; i < n; i++) {
      if (mode === "verify") {
        const text = new TextDecoder().decode(body);
        const headers = Object.fromEntries(request.headers);
        answer = verify({ provider: "sendgrid", headers, body: text, ...options });
      } else if (mode === "hand") {
        answer = summary(await sendgridByHand(request.headers, body, env.SENDGRID_PUBLIC_KEY, now));
      } else {
        const req = { headers: request.headers, body };
        const result =
          mode === "webhook"
            ? await handleWebhook("sendgrid", req, { verify: options })
            : handleWebhookSync("sendgrid", req, { verify: mode === "plain" ? null : options });
        answer = summary(result);
      }
    }
    return Response.json(answer);
  },
};
