// Browsers and bundlers (webpack 5, Vite, Rollup, esbuild with a file loader): they resolve
// `new URL(..., import.meta.url)` to the emitted .wasm asset.
import init from "./mailstate.js";

await init({ module_or_path: new URL("./mailstate_bg.wasm", import.meta.url) });

export * from "./mailstate.js";
export { handleWebhook, handleWebhookSync } from "./webhook.js";
