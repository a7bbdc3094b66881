// A test worker that plays wire ops inside workerd: POST /call?op=<op> with the JSON input as
// the body answers `{"envelope": <call()'s text>, "typed": {<variant>: <the typed function's
// result>}}` (for `webhook` both handleWebhook, with WebCrypto, and handleWebhookSync).
// POST /agree plays a signed case through both handleWebhook paths (tests/agree.mjs); POST
// /headers plays webhook calls with their headers as a Headers and as a plain object.
// GET /ping answers without touching wasm (the benchmark's baseline round trip).

import * as api from "../../pkg/workerd.js";
import { playCase, playHeaderShapes } from "../agree.mjs";
import { typedCall, typedVariants } from "../typed.mjs";

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/ping") return new Response("pong");
    if (url.pathname === "/agree" && request.method === "POST") {
      // One case of tests/agree-cases.mjs through handleWebhook and handleWebhookSync.
      return Response.json(await playCase(api, await request.json()));
    }
    if (url.pathname === "/headers" && request.method === "POST") {
      // Webhook calls with headers as a Headers and as a plain object (tests/agree.mjs).
      const out = [];
      for (const c of await request.json()) out.push(await playHeaderShapes(api, c));
      return Response.json(out);
    }
    if (url.pathname !== "/call" || request.method !== "POST") {
      return new Response("not found", { status: 404 });
    }
    const op = url.searchParams.get("op") ?? "";
    const text = await request.text();
    const envelope = api.call(op, text);
    const typed = {};
    for (const variant of typedVariants(op)) {
      try {
        typed[variant] = await typedCall(api, op, JSON.parse(text), variant);
      } catch (e) {
        typed[variant] = { thrown: String(e) };
      }
    }
    return Response.json({ envelope, typed });
  },
};
