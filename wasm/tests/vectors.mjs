// The conformance corpus for the JavaScript runners (Node and workerd): load every vector
// under tests/vectors/, check a runtime's envelope against `expect` with the same rule as the
// native runner (tests/src/lib.rs `check`), and print a readable diff on failure.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export { typedCall, typedVariants } from "./typed.mjs";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const vectorsDir = join(root, "tests", "vectors");

/** Every vector file, sorted by path: `{ path, area, doc }`. */
export function loadVectors() {
  const files = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".json")) files.push(p);
    }
  };
  walk(vectorsDir);
  files.sort();
  return files.map((p) => {
    const rel = relative(root, p);
    const doc = JSON.parse(readFileSync(p, "utf8"));
    for (const key of ["description", "op", "input", "expect"]) {
      if (!(key in doc)) throw new Error(`${rel}: vector has no ${JSON.stringify(key)}`);
    }
    return { path: rel, area: relative(vectorsDir, p).split(/[\\/]/)[0], doc };
  });
}

/** JSON equality: same values, object key order ignored. */
export function jsonEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
}

/** Pretty JSON with sorted keys, so diffs line up whatever order a runtime used. */
function pretty(v) {
  const sort = (x) =>
    Array.isArray(x)
      ? x.map(sort)
      : x && typeof x === "object"
        ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, sort(x[k])]))
        : x;
  return JSON.stringify(sort(v), null, 2) ?? "undefined";
}

/** A line diff: `-` expected, `+` actual. */
export function diff(expected, actual) {
  const e = pretty(expected).split("\n");
  const a = pretty(actual).split("\n");
  const t = Array.from({ length: e.length + 1 }, () => new Array(a.length + 1).fill(0));
  for (let i = e.length - 1; i >= 0; i--) {
    for (let j = a.length - 1; j >= 0; j--) {
      t[i][j] = e[i] === a[j] ? t[i + 1][j + 1] + 1 : Math.max(t[i + 1][j], t[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < e.length || j < a.length) {
    if (i < e.length && j < a.length && e[i] === a[j]) {
      out.push(`  ${e[i]}`);
      i++;
      j++;
    } else if (j < a.length && (i === e.length || t[i][j + 1] >= t[i + 1][j])) {
      out.push(`+ ${a[j++]}`);
    } else {
      out.push(`- ${e[i++]}`);
    }
  }
  return out.join("\n");
}

/**
 * Check an envelope (`{output}` or `{error: {code}}`, as a parsed value) against a vector.
 * Returns null on a match, else a report naming the file with a diff.
 */
export function check(vector, envelope) {
  const expect = vector.doc.expect;
  let ok;
  let want;
  if ("output" in expect) {
    ok = envelope !== null && typeof envelope === "object" && "output" in envelope &&
      jsonEqual(envelope.output, expect.output);
    want = { output: expect.output };
  } else if (expect.error && "code" in expect.error) {
    ok = envelope?.error?.code === expect.error.code;
    want = expect;
  } else {
    return `${vector.path}: expect has neither output nor error`;
  }
  return ok ? null : `${vector.path}\n${diff(want, envelope)}`;
}
