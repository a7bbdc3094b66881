#!/usr/bin/env bash
# The main job on bundled example data: `mailstate demo` ingests the provider payloads under
# examples/demo/ (SendGrid webhook batches, one retried; SES notifications through SNS and a
# Firehose export; a Mailgun webhook and an Events API page that repeats it; Postmark bounce
# webhooks; a SparkPost batch) into a temporary store, raw bodies first, then prints every
# message state, the suppression list and deliverability by provider, domain and day, computed
# in SQL (sql/queries/).
set -euo pipefail
cd "$(dirname "$0")/.."
# MAILSTATE_BIN: a mailstate binary already built (scripts/test.sh passes the one `cargo test`
# built, so CI does not build DataFusion a second time with other features).
if [[ -n "${MAILSTATE_BIN:-}" ]]; then
  bin="$MAILSTATE_BIN"
else
  cargo build -q -p mailstate-cli --bin mailstate
  bin="${CARGO_TARGET_DIR:-target}/debug/mailstate"
fi
"$bin" demo --examples examples/demo "$@"
