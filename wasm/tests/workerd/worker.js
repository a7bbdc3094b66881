// A test worker that plays wire ops inside workerd: POST /call?op=<op> with the JSON input as
// the body answers `{"envelope": <call()'s text>, "typed": <the typed function's result>}`.
// GET /ping answers without touching wasm (the benchmark's baseline round trip).

import * as api from "../../pkg/workerd.js";
import { typedCall } from "../typed.mjs";

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/ping") return new Response("pong");
    if (url.pathname !== "/call" || request.method !== "POST") {
      return new Response("not found", { status: 404 });
    }
    const op = url.searchParams.get("op") ?? "";
    const text = await request.text();
    const envelope = api.call(op, text);
    let typed;
    try {
      typed = typedCall(api, op, JSON.parse(text));
    } catch (e) {
      typed = { thrown: String(e) };
    }
    return Response.json({ envelope, typed });
  },
};
