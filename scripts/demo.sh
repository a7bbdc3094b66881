#!/usr/bin/env bash
# The main job on bundled example data: provider payloads (SendGrid, SES via SNS, an SES
# Firehose export, Postmark, a Mailgun Events API page, SparkPost) normalized to canonical
# events, together with examples/events.ndjson; then one state per message and recipient, and
# the suppression list.
set -euo pipefail
cd "$(dirname "$0")/.."
# MAILSTATE_BIN: a mailstate binary already built (scripts/test.sh passes the one `cargo test`
# built, so CI does not build DataFusion a second time with other features).
if [[ -n "${MAILSTATE_BIN:-}" ]]; then
  bin="$MAILSTATE_BIN"
else
  cargo build -q -p mailstate-sql --bin mailstate
  bin="${CARGO_TARGET_DIR:-target}/debug/mailstate"
fi
events="$(mktemp)"
trap 'rm -f "$events"' EXIT

p=examples/payloads
"$bin" normalize --provider sendgrid "$p/sendgrid-event-webhook-batch.json" >>"$events"
"$bin" normalize --provider ses \
  --header 'x-amz-sns-message-type: Notification' \
  --header 'x-amz-sns-message-id: 6b1a2c3d-0000-4000-8000-000000000001' \
  "$p/ses-sns-permanent-bounce.json" >>"$events"
"$bin" normalize --provider ses "$p/ses-firehose-export.ndjson" >>"$events"
"$bin" normalize --provider auto "$p/postmark-spam-complaint.json" >>"$events"
"$bin" normalize --provider auto "$p/mailgun-events-api-page.json" >>"$events"
"$bin" normalize --provider auto "$p/sparkpost-webhook-batch.json" >>"$events"
cat examples/events.ndjson >>"$events"

echo "# $(wc -l <"$events") canonical events from 6 provider payloads and examples/events.ndjson"
echo
echo "# message states (one per message and recipient)"
"$bin" state "$events"
echo
echo "# suppressions"
"$bin" suppressions "$events"
