// Node (20+) and Deno: read the .wasm next to this file and instantiate it synchronously.
import { readFileSync } from "node:fs";
import { initSync } from "./mailstate.js";

initSync({ module: readFileSync(new URL("./mailstate_bg.wasm", import.meta.url)) });

export * from "./mailstate.js";
export { handleWebhook, handleWebhookSync } from "./webhook.js";
