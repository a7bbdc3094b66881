// Type-checked with `tsc --noEmit -p wasm/tests/types` (scripts/test-js.sh): every function of
// the package used with its declared input and output types. The `@ts-expect-error` lines
// make sure the types are real (a type that collapsed to `any` would make them fail).

import {
  applyEvent,
  call,
  eventKey,
  handleWebhook,
  handleWebhookSync,
  mergeStates,
  normalize,
  reduce,
  route,
  suppressions,
  verify,
  viewState,
  type CanonicalEvent,
  type Event,
  type MailstateError,
  type MessageState,
  type NormalizeOutput,
  type RouteDecision,
  type RouteName,
  type StateView,
  type Automated,
  type BounceCategory,
  type Suppression,
  type VerifyOutput,
  type WebhookResult,
} from "../../pkg/index.js";

const event: Event = {
  event_key: "ses:b1",
  provider: "ses",
  type: "hard_bounce",
  provider_type: "Bounce",
  recipient: "ann@example.com",
  occurred_at: "2025-11-03T20:00:01.000Z",
  bounce_class: "hard",
};

const normalized: NormalizeOutput = normalize({ provider: "ndjson", body: JSON.stringify(event) });
const first: CanonicalEvent | undefined = normalized.events[0];
const proxyOpen: Event = {
  event_key: "sendgrid:o1",
  provider: "sendgrid",
  type: "open",
  provider_type: "open",
  automated: "privacy_proxy",
};
const category: BounceCategory | null = first?.bounce_category ?? null;
const machine: Automated | null | undefined = proxyOpen.automated;

const key: string = eventKey({ provider: "ses", provider_type: "Bounce", scope: "per_recipient" });
const views: StateView[] = reduce({ events: [event] });
const status: string = views[0]?.status ?? "unknown";
const state: MessageState = applyEvent({ events: [event] });
const merged: MessageState = mergeStates({ states: [state, state] });
const view: StateView = viewState({ state: merged });
const sups: Suppression[] = suppressions({
  events: [event],
  policy: { complaint: "stream", soft_bounce: { count: 3, window_secs: 604800 } },
});
const routes: RouteDecision[] = route({ events: [event], seen: ["ses:b0"], policy: { default: "state" } });
const verdict: VerifyOutput = verify({ provider: "sendgrid", body: "[]", keys: ["MFkw..."], now: 1767225600 });
const envelope: string = call("reduce", '{"events":[]}');

const result: WebhookResult = await handleWebhook(
  "sendgrid",
  { headers: new Headers({ "content-type": "application/json" }), body: new Uint8Array() },
  { verify: { keys: ["MFkw..."], now: 1767225600 }, seen: [] },
);
const pending: Promise<WebhookResult> = handleWebhook("ndjson", { body: "" }, { verify: null });
const inWasm: WebhookResult = handleWebhookSync("sendgrid", { body: "[]" }, { verify: { keys: ["MFkw..."], now: 1 } });
const status2: number = result.status;
const suppress: CanonicalEvent[] = result.routes.suppress;
const confirm: string | null = result.confirm_url;
// A handshake's exact answer (Event Grid validation, CloudEvents OPTIONS), when there is one.
const answerBody: string | null | undefined = result.answer?.body;
const answerHeaders: Record<string, string> | undefined = result.answer?.headers;
await handleWebhook("azure_acs", { headers: { "webhook-request-origin": "eventgrid.azure.net" }, body: "" }, {
  verify: { secrets: ["s"], url: "https://h.example/w?code=s", now: 1 },
});
const byRoute: RouteName[] = Object.keys(result.routes) as RouteName[];
await handleWebhook("ndjson", { body: "" }, { verify: null });
handleWebhookSync("ndjson", { headers: { a: "b" }, body: new ArrayBuffer(0) }, { verify: null });

try {
  reduce({ events: [] });
} catch (e) {
  const err = e as MailstateError;
  const code: "invalid_json" | string = err.code;
  void code;
}

// @ts-expect-error: events must be a list of events
reduce({ events: [1] });
// @ts-expect-error: not an event type
const wrong: Event = { ...event, type: "bounced" };
// @ts-expect-error: verify is required (null to skip on purpose)
handleWebhook("ndjson", { body: "" }, {});
// @ts-expect-error: the body is bytes or text
handleWebhook("ndjson", { body: 42 }, { verify: null });
// @ts-expect-error: verification needs `now` (core has no clock)
handleWebhook("sendgrid", { body: "" }, { verify: { keys: [] } });
// @ts-expect-error: status is a number
const s: string = result.status;
// @ts-expect-error: handleWebhook is async (a Promise, not the result)
const notAwaited: WebhookResult = handleWebhook("ndjson", { body: "" }, { verify: null });
// @ts-expect-error: verify is required by handleWebhookSync too
handleWebhookSync("ndjson", { body: "" }, {});

void [category, machine, first, key, status, view, sups, routes, verdict, envelope, status2, suppress, confirm, byRoute, wrong, s];
void [pending, inWasm, notAwaited];
