// Cloudflare Workers (workerd) and wrangler: the .wasm is imported as a compiled module,
// because workerd refuses to compile WebAssembly from bytes at run time.
import wasmModule from "./mailstate_bg.wasm";
import { initSync } from "./mailstate.js";

initSync({ module: wasmModule });

export * from "./mailstate.js";
export { handleWebhook, handleWebhookSync } from "./webhook.js";
