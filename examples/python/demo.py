"""Normalize a payload and reduce its events with the rules plugin.

    pip install -r examples/python/requirements.txt
    scripts/build-wasm.sh
    python examples/python/demo.py
"""

from mailstate_plugin import Plugin

BODY = "\n".join([
    '{"event_key":"ses:d1","provider":"ses","type":"delivered","provider_type":"Delivery",'
    '"message_id":"m1","recipient":"ann@example.com","occurred_at":"2025-11-03T20:00:00Z"}',
    '{"event_key":"ses:b1","provider":"ses","type":"hard_bounce","provider_type":"Bounce",'
    '"message_id":"m2","recipient":"bob@example.com","occurred_at":"2025-11-03T20:00:01Z",'
    '"bounce_class":"hard","diagnostic":"550 5.1.1 user unknown"}',
    '{"event_key":"ses:o1","provider":"ses","type":"open","provider_type":"Open",'
    '"message_id":"m2","recipient":"bob@example.com","occurred_at":"2025-11-03T21:00:00Z"}',
    '{"not an event": true}',
])


def main() -> None:
    rules = Plugin()
    out = rules.normalize("ndjson", BODY)
    print(f"{len(out['events'])} events, {len(out['errors'])} errors")
    for err in out["errors"]:
        print(f"  error {err['code']}: {err['message']}")
    for state in rules.reduce(out["events"]):
        print(f"  {state['message_id']} -> {state['recipient']}: {state['status']}"
              f" (late events: {state['late_event_count']})")


if __name__ == "__main__":
    main()
