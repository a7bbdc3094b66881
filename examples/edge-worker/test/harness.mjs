// Run the edge worker in real workerd through Miniflare (offline), with the bindings of
// wrangler.toml: the SEEN KV namespace, two queue producers (read back by a small consumer
// worker that records what it receives), and outbound fetches (the suppression endpoint, SNS
// certificate and confirmation URLs) answered by a function of the test.

import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import { Miniflare } from "../../../wasm/tests/workerd/miniflare.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const workerDir = join(here, "..");
const pkgDir = join(root, "wasm", "pkg");

/**
 * The worker's modules as wrangler would bundle them: src/index.js, and the `mailstate`
 * package resolved through its `exports` map with the "workerd" condition.
 */
function edgeModules() {
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
  const entry = join(pkgDir, pkg.exports["."].workerd);
  const index = join(workerDir, "src", "index.js");
  // workerd resolves the bare specifier `mailstate` next to the importing module.
  const alias = join(workerDir, "src", "mailstate");
  const rel = relative(dirname(alias), entry).replaceAll("\\", "/");
  return [
    { type: "ESModule", path: index, contents: readFileSync(index, "utf8") },
    { type: "ESModule", path: alias, contents: `export * from "./${rel}";\n` },
    { type: "ESModule", path: entry, contents: readFileSync(entry, "utf8") },
    // The wasm-bindgen module, and handleWebhook's WebCrypto wrapper around it.
    ...["mailstate.js", "webhook.js"].map((name) => ({
      type: "ESModule",
      path: join(pkgDir, name),
      contents: readFileSync(join(pkgDir, name), "utf8"),
    })),
    {
      type: "CompiledWasm",
      path: join(pkgDir, "mailstate_bg.wasm"),
      contents: readFileSync(join(pkgDir, "mailstate_bg.wasm")),
    },
  ];
}

const SINK = `
export default {
  async queue(batch, env) {
    for (const m of batch.messages) {
      await env.RECEIVED.put(batch.queue + "|" + m.body.event_key, JSON.stringify(m.body));
    }
  },
};
`;

/**
 * Start the edge worker. `bindings` are its env vars and secrets; `outbound(request)` answers
 * its outbound fetches.
 */
export async function startEdge({ bindings, outbound }) {
  const mf = new Miniflare({
    workers: [
      {
        name: "edge",
        compatibilityDate: "2026-04-01",
        // Module names are paths relative to this root (a per-worker option).
        modulesRoot: root,
        modules: edgeModules(),
        bindings,
        kvNamespaces: { SEEN: "seen" },
        queueProducers: {
          STATE_QUEUE: { queueName: "mailstate-state" },
          ANALYTICS_QUEUE: { queueName: "mailstate-analytics" },
        },
        outboundService: outbound,
      },
      {
        name: "sink",
        compatibilityDate: "2026-04-01",
        modules: true,
        script: SINK,
        kvNamespaces: { RECEIVED: "received" },
        queueConsumers: {
          "mailstate-state": { maxBatchSize: 100, maxBatchTimeout: 1 },
          "mailstate-analytics": { maxBatchSize: 100, maxBatchTimeout: 1 },
        },
      },
    ],
  });
  await mf.ready;
  const received = await mf.getKVNamespace("RECEIVED", "sink");
  const seen = await mf.getKVNamespace("SEEN", "edge");
  return {
    mf,
    seen,
    post: (path, init) => mf.dispatchFetch(`https://edge.example.com${path}`, { method: "POST", ...init }),
    /** The event a queue consumer received under `key`, as it was forwarded (or null). */
    async received(queue, key) {
      const text = await received.get(`${queue}|${key}`);
      return text === null ? null : JSON.parse(text);
    },
    /** The event keys a queue consumer has received, waiting up to `ms` for `count` of them. */
    async queued(queue, count, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const { keys } = await received.list({ prefix: `${queue}|` });
        if (keys.length >= count || Date.now() > deadline) {
          return keys.map((k) => k.name.slice(queue.length + 1)).sort();
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
