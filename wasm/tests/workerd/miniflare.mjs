// Start the test worker in real workerd through Miniflare, offline.

import { join } from "node:path";
import { Miniflare } from "miniflare";

// The example worker's tests (examples/edge-worker/test) use the same pinned Miniflare.
export { Miniflare };

import { root } from "../vectors.mjs";

/** Miniflare's default rules treat `*.js` as CommonJS; the package is ESM with a .wasm module. */
export const modulesRules = [
  { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
  { type: "CompiledWasm", include: ["**/*.wasm"] },
];

export function startTestWorker() {
  return new Miniflare({
    modules: true,
    modulesRoot: join(root, "wasm"),
    scriptPath: join(root, "wasm", "tests", "workerd", "worker.js"),
    modulesRules,
    compatibilityDate: "2026-04-01",
  });
}
