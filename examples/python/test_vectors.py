"""Play every conformance vector in tests/vectors/ through the plugin from Python.

Run: python -m unittest discover -s examples/python (after scripts/build-wasm.sh).
Each vector is checked for the same `output` value (or error code) as the vector expects,
and the envelope is checked to be compact JSON exactly as serde_json writes it (re-serializing
the parsed envelope in its own key order gives the same bytes). Byte identity with the native
rules is checked in Rust (host/tests/conformance.rs) for the same module; vector files may
order keys differently from the rules, so they are compared as values here.
"""

import difflib
import json
import unittest
from pathlib import Path

from mailstate_plugin import Plugin

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors"


def load_vectors():
    for path in sorted(VECTORS.rglob("*.json")):
        yield path, json.loads(path.read_text())


def diff(expected, actual) -> str:
    e = json.dumps(expected, indent=2, sort_keys=False).splitlines()
    a = json.dumps(actual, indent=2, sort_keys=False).splitlines()
    return "\n".join(difflib.unified_diff(e, a, "expected", "plugin", lineterm=""))


def compact(value) -> bytes:
    # serde_json's compact form; vectors keep the Rust field order, so this reproduces it.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class VectorTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.plugin = Plugin()

    def test_every_vector_matches_through_the_plugin(self):
        played = 0
        for path, vector in load_vectors():
            rel = path.relative_to(VECTORS)
            with self.subTest(vector=str(rel)):
                input_bytes = compact(vector["input"])
                raw = self.plugin.call(vector["op"], input_bytes)
                envelope = json.loads(raw)
                expect = vector["expect"]
                if "output" in expect:
                    self.assertEqual(envelope.get("output"), expect["output"],
                                     f"{rel}\n{diff({'output': expect['output']}, envelope)}")
                    self.assertEqual(raw, compact(envelope),
                                     f"{rel}: envelope bytes are not compact serde_json")
                else:
                    self.assertEqual(envelope.get("error", {}).get("code"),
                                     expect["error"]["code"], f"{rel}\n{diff(expect, envelope)}")
                played += 1
        self.assertGreater(played, 0, f"no vectors found under {VECTORS}")

    def test_normalize_and_reduce_helpers(self):
        body = ('{"event_key":"ses:1","provider":"ses","type":"delivered",'
                '"provider_type":"Delivery","message_id":"m1","recipient":"ann@example.com"}')
        out = self.plugin.normalize("ndjson", body.encode())
        self.assertEqual(len(out["events"]), 1)
        states = self.plugin.reduce(out["events"])
        self.assertEqual(states[0]["status"], "delivered")

    def test_rules_errors_raise_with_their_code(self):
        from mailstate_plugin import PluginError
        with self.assertRaises(PluginError) as caught:
            self.plugin.call_json("no_such_op", {})
        self.assertEqual(caught.exception.code, "unknown_op")


if __name__ == "__main__":
    unittest.main()
