//! The JavaScript surface (feature `js`): one `#[wasm_bindgen]` function per wire op, plus
//! `handleWebhookSync` and [`WebhookCall`] for edge workers.
//!
//! Every op function serializes its argument with `JSON.stringify`, calls
//! `mailstate_core::wire::call` and hands back the envelope's `output` parsed with `JSON.parse`,
//! so JavaScript gets exactly the JSON every other runtime gets. No rule lives here. Errors
//! become JavaScript exceptions in exactly one place, [`into_result`], which sets `code` (the
//! stable `ErrorKind` code) and, when known, `path` and `line`.
//!
//! The webhook path is the hot one at the edge, so it skips the JSON round trips: the body
//! bytes go straight to core's typed `handle_webhook`, the options are read once, only the
//! headers core says it reads are read from a Fetch `Headers`, and the outcome comes back as
//! one text of strings and a tape of their lengths (see [`encode`]). The package's async
//! `handleWebhook` (`js/webhook.js`) drives [`WebhookCall`] to check public-key signatures
//! (ECDSA, RSA) with the runtime's WebCrypto, with core keeping every rule and the status.

#![allow(unreachable_pub, reason = "exported to JavaScript by wasm-bindgen, not to Rust callers")]

use js_sys::{Array, JSON, Object, Reflect, Uint8Array};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use mailstate_core::{
    BorrowedEvent, Error, ErrorKind, Headers,
    route::Route,
    verify::{HostCheck, HostVerdict},
    webhook::{
        WebhookOptions, WebhookOutcome, handle_webhook, handle_webhook_with_host,
        webhook_host_check,
    },
    wire,
};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** A UTC instant as RFC 3339 text with exactly three fractional digits: `2025-11-03T20:00:01.000Z`.
 * Inputs also accept other RFC 3339 forms and offsets. */
export type Timestamp = string;

/** The canonical event types, lowest to highest rank, plus `resubscribe`. */
export type EventType =
  | "unknown" | "accepted" | "deferred" | "soft_bounce" | "delivered" | "open" | "click"
  | "rejected" | "unsubscribe" | "hard_bounce" | "complaint" | "resubscribe";

export type BounceClass = "hard" | "soft" | "block" | "undetermined";

/** Why a bounce, deferral or block happened (DESIGN.md, "Bounce category"). */
export type BounceCategory =
  | "invalid_recipient" | "mailbox_full" | "mailbox_disabled" | "domain_error" | "blocked"
  | "policy" | "content" | "expired" | "auto_reply" | "other";

/**
 * A machine open or click, from an explicit provider signal only (SendGrid `sg_machine_open`,
 * Mailgun `client-info.bot`, Brevo proxy opens, AhaSend `is_bot`); null means a person, as far as the provider
 * can tell.
 */
export type Automated = "privacy_proxy" | "scanner";

/** The provider slugs (and `ndjson`, canonical events one per line). */
export type ProviderName =
  | "ndjson" | "sendgrid" | "ses" | "mailgun" | "postmark" | "sparkpost" | "resend"
  | "mandrill" | "mailjet" | "brevo" | "mailersend" | "postal" | "arf"
  | "mailtrap" | "smtp2go" | "zeptomail" | "loops" | "ahasend"
  | "azure_acs" | "elastic_email" | "scaleway" | "ses_eventbridge" | "unisender_go";

/** One canonical event (DESIGN.md). Optional fields may be absent or null on input. */
export interface Event {
  event_key: string;
  provider: string;
  provider_event_id?: string | null;
  type: EventType;
  provider_type: string;
  message_id?: string | null;
  smtp_message_id?: string | null;
  recipient?: string | null;
  occurred_at?: Timestamp | null;
  stream?: string | null;
  bounce_class?: BounceClass | null;
  bounce_category?: BounceCategory | null;
  smtp_status?: string | null;
  enhanced_status?: string | null;
  diagnostic?: string | null;
  url?: string | null;
  user_agent?: string | null;
  ip?: string | null;
  automated?: Automated | null;
  tags?: string[];
  metadata?: Record<string, string>;
  raw?: string;
}

/** An event as core outputs it: every field present. */
export interface CanonicalEvent extends Event {
  provider_event_id: string | null;
  message_id: string | null;
  smtp_message_id: string | null;
  recipient: string | null;
  occurred_at: Timestamp | null;
  stream: string | null;
  bounce_class: BounceClass | null;
  bounce_category: BounceCategory | null;
  smtp_status: string | null;
  enhanced_status: string | null;
  diagnostic: string | null;
  url: string | null;
  user_agent: string | null;
  ip: string | null;
  automated: Automated | null;
  tags: string[];
  metadata: Record<string, string>;
  raw: string;
}

/** HTTP headers: a plain object, a `Headers`, a `Map` or `[name, value]` pairs. */
export type HeadersLike =
  | Record<string, string> | Iterable<[string, string]> | { entries(): Iterable<[string, string]> };

/** An error from an element of a batch, or from a whole call. */
export interface WireError {
  code: ErrorCode;
  message: string;
  path?: string;
  line?: number;
}

/** The stable error codes (`ErrorKind`). */
export type ErrorCode =
  | "invalid_json" | "invalid_utf8" | "type_mismatch" | "missing_field" | "invalid_value"
  | "too_large" | "unknown_provider" | "unsupported" | "wrong_provider" | "ambiguous_provider"
  | "unknown_op" | "invalid_policy" | "missing_header" | "bad_encoding" | "stale_timestamp"
  | "future_timestamp" | "signature_mismatch" | "unknown_key" | "unauthorized" | "replay";

/** What every function throws: an `Error` whose `code` is the stable error code. */
export interface MailstateError extends Error {
  code: ErrorCode;
  path?: string;
  line?: number;
}

export interface NormalizeInput {
  provider: ProviderName;
  headers?: Record<string, string>;
  /** The body as text; or give `body_base64` for bytes. */
  body?: string;
  body_base64?: string;
}

export type ControlKind =
  | "subscription_confirmation" | "unsubscribe_confirmation" | "ping"
  | "subscription_validation" | "origin_validation";

/** The exact HTTP answer a handshake needs (Event Grid's validation, the CloudEvents OPTIONS). */
export interface Answer {
  status: number;
  /** Response headers to set, lower-case names. */
  headers: Record<string, string>;
  body: string | null;
}

/** A provider message that is not an event. */
export interface Control {
  kind: ControlKind;
  url: string | null;
  detail: string | null;
}

export interface NormalizeOutput {
  events: CanonicalEvent[];
  errors: WireError[];
  control: Control | null;
}

/** Key material and settings of a signature or credential check (core's `verify` op). */
export interface VerifyOptions {
  /** Unix seconds now (core has no clock). */
  now: number;
  /** Shared secrets (HMAC schemes, basic-auth or token credentials); any one may match. */
  secrets?: string[];
  /** Public keys or certificates (SendGrid, Postal, the SNS signing certificate), base64 DER or PEM. */
  keys?: string[];
  /** Accepted clock skew for schemes that sign a time; core's default is 300 s. */
  tolerance_secs?: number;
  /** The webhook URL as configured at the provider (Mandrill signs it), or as requested: a
   * secret among its query parameters is a credential (Event Grid, Elastic Email, …). */
  url?: string;
  /** Form parameters of a form-encoded body (Mandrill signs them). */
  form?: Record<string, string>;
  /** Tokens seen before (Mailgun replay check). */
  seen_tokens?: string[];
  /** The header carrying a shared token, for token-checked providers. */
  token_header?: string;
  /**
   * Verify as Standard Webhooks (`webhook-id`/`-timestamp`/`-signature`; `v1` HMAC with
   * `whsec_` secrets, `v1a` Ed25519 with `whpk_` keys) instead of the provider's own scheme,
   * for a sender that adopted it. Loops and AhaSend use it without this option.
   */
  scheme?: "standard_webhooks";
  /** CA certificates (PEM) signing certificates must be issued by (Scaleway's
   * sns-trust-chain.pem). */
  trust_anchors?: string[];
}

/** A request and the key material to check it with. */
export interface VerifyInput extends VerifyOptions {
  provider: ProviderName;
  headers?: Record<string, string>;
  body?: string;
  body_base64?: string;
}

/** What a passed check says; a rejected request throws a `MailstateError` instead. */
export interface VerifyOutput {
  valid: true;
  scheme: string;
  key_index: number;
  timestamp: string | null;
  token: string | null;
}

export interface EventKeyInput {
  provider: string;
  provider_event_id?: string | null;
  provider_type: string;
  message_id?: string | null;
  recipient?: string | null;
  occurred_at?: Timestamp | null;
  url?: string | null;
  scope?: "event" | "per_recipient";
}

export interface EventsInput {
  events: Event[];
}

/** What the state keeps of one event. */
export interface EventFacts {
  type: EventType;
  occurred_at?: Timestamp;
  bounce_class?: BounceClass;
  diagnostic?: string;
  automated?: Automated;
  bounce_category?: BounceCategory;
}

/** The mergeable state of one (message_id, recipient) group. */
export interface MessageState {
  message_id?: string | null;
  recipient?: string | null;
  events?: Record<string, EventFacts>;
}

/** The derived view of a message state (DESIGN.md, "Message state"). */
export interface StateView {
  message_id: string | null;
  recipient: string | null;
  status: EventType;
  terminal: boolean;
  terminal_at: Timestamp | null;
  first_event_at: Timestamp | null;
  last_event_at: Timestamp | null;
  accepted_at: Timestamp | null;
  delivered_at: Timestamp | null;
  first_open_at: Timestamp | null;
  first_click_at: Timestamp | null;
  bounced_at: Timestamp | null;
  complained_at: Timestamp | null;
  unsubscribed_at: Timestamp | null;
  /** Distinct opens, people's and machines'. */
  open_count: number;
  /** Distinct clicks, people's and machines'. */
  click_count: number;
  /** Distinct opens flagged `automated`. */
  automated_open_count: number;
  /** Distinct clicks flagged `automated`. */
  automated_click_count: number;
  deferred_count: number;
  event_count: number;
  late_event_count: number;
  bounce_class: BounceClass | null;
  bounce_category: BounceCategory | null;
  diagnostic: string | null;
}

export interface ApplyInput {
  state?: MessageState | null;
  events: Event[];
}

export interface MergeInput {
  states: MessageState[];
}

export interface ViewInput {
  state: MessageState;
}

export type ScopeRule = "all" | "stream" | "off";

export interface SuppressionPolicy {
  hard_bounce?: ScopeRule;
  complaint?: ScopeRule;
  unsubscribe?: ScopeRule;
  soft_bounce?: { count: number; window_secs: number } | null;
}

export interface SuppressionsInput {
  events: Event[];
  policy?: SuppressionPolicy;
}

export interface Suppression {
  recipient: string;
  /** `all` or `stream:<name>`. */
  scope: string;
  reason: "complaint" | "hard_bounce" | "unsubscribe" | "soft_bounces";
  since: Timestamp | null;
  event_key: string;
}

export type RouteName = "suppress" | "state" | "analytics" | "drop";

/** A `types` map replaces the default table; absent fields keep their defaults. */
export interface RoutingPolicy {
  types?: Partial<Record<EventType, RouteName>>;
  default?: RouteName;
  duplicates?: RouteName;
  /** The route of an open or click flagged `automated` (default `analytics`). */
  automated?: RouteName;
}

export interface RouteInput {
  events: Event[];
  policy?: RoutingPolicy;
  /** Event keys already seen: those events are duplicates. */
  seen?: string[];
}

export interface RouteDecision {
  event_key: string;
  route: RouteName;
}

/** A request as received: headers and the raw body bytes (verify needs them untouched). */
export interface WebhookRequest {
  headers?: HeadersLike;
  body: Uint8Array | ArrayBuffer | string;
}

export interface WebhookOptions {
  /** Options of core's `verify` op for this provider, or `null` to skip verification on
   * purpose (a source authenticated some other way). Required. */
  verify: VerifyOptions | null;
  policy?: RoutingPolicy;
  seen?: string[];
}

export interface WebhookResult {
  /** The HTTP status to answer the provider with: 2xx stored or ignored, 401 forged or stale,
   * 400/413 malformed (retrying will not help), 404 unknown provider, 5xx retry later. */
  status: number;
  /** Whether a signature or credential check ran and passed. */
  verified: boolean;
  /** Why the request was refused (when `status` is not 2xx). */
  error: WireError | null;
  /** The events, grouped by route. */
  routes: Record<RouteName, CanonicalEvent[]>;
  /** Elements of the batch that could not be normalized (the others are in `routes`). */
  errors: WireError[];
  control: Control | null;
  /** For an SNS subscription confirmation: the URL to GET to confirm it. */
  confirm_url: string | null;
  /** Present only for a handshake that needs a particular answer (Event Grid's subscription
   * validation, the CloudEvents OPTIONS request): answer with exactly this. */
  answer?: Answer;
}

/** The wire op names `call` understands. */
export type Op =
  | "normalize" | "verify" | "event_key" | "reduce" | "apply" | "merge" | "view"
  | "suppressions" | "route" | "plan_sync" | "webhook";
"#;

/// Turn a wire envelope into the call's result: `output`, or a thrown `Error` with `code`.
///
/// The one place errors become JavaScript values.
fn into_result(envelope: &[u8]) -> Result<JsValue, JsValue> {
    // The envelope is JSON that core serialized, hence valid UTF-8.
    let text = String::from_utf8_lossy(envelope);
    let parsed = JSON::parse(&text)?;
    let error = Reflect::get(&parsed, &JsValue::from_str("error"))?;
    if error.is_undefined() {
        return Reflect::get(&parsed, &JsValue::from_str("output"));
    }
    let field = |name: &str| Reflect::get(&error, &JsValue::from_str(name));
    let message = field("message")?.as_string().unwrap_or_default();
    let js = js_sys::Error::new(&message);
    js.set_name("MailstateError");
    for name in ["code", "path", "line"] {
        let value = field(name)?;
        if !value.is_undefined() {
            Reflect::set(&js, &JsValue::from_str(name), &value)?;
        }
    }
    Err(js.into())
}

/// A core error for a problem found on this side of the boundary (an input `JSON.stringify`
/// cannot encode), sent through the same conversion as every other error.
fn local_error(kind: ErrorKind, message: &str) -> JsValue {
    throw(&Error::new(kind, message))
}

/// Run `op` on a JavaScript value.
fn run(op: &str, input: &JsValue) -> Result<JsValue, JsValue> {
    // `JSON.stringify(undefined)` is `undefined`: send `null` so core names what is missing.
    into_result(&wire::call(op, stringify(input)?.as_bytes()))
}

/// Run any wire op on JSON text and return the envelope text, byte for byte what every other
/// runtime returns (`{"output": …}` or `{"error": {…}}`). Never throws.
#[wasm_bindgen(js_name = call)]
pub fn call(#[wasm_bindgen(unchecked_param_type = "Op | string")] op: &str, input: &str) -> String {
    String::from_utf8_lossy(&wire::call(op, input.as_bytes())).into_owned()
}

/// Normalize one payload into canonical events.
///
/// # Errors
/// A `MailstateError` for a payload that is malformed as a whole; element errors are in
/// `errors` instead.
#[wasm_bindgen(js_name = normalize, unchecked_return_type = "NormalizeOutput")]
pub fn normalize(
    #[wasm_bindgen(unchecked_param_type = "NormalizeInput")] input: &JsValue,
) -> Result<JsValue, JsValue> {
    run("normalize", input)
}

/// Check a webhook's signature or credentials; returns core's answer, throws when invalid.
///
/// # Errors
/// A `MailstateError` whose `code` says what failed (`signature_mismatch`, …).
#[wasm_bindgen(js_name = verify, unchecked_return_type = "VerifyOutput")]
pub fn verify(
    #[wasm_bindgen(unchecked_param_type = "VerifyInput")] input: &JsValue,
) -> Result<JsValue, JsValue> {
    run("verify", input)
}

/// The dedupe key of an event's identifying fields.
///
/// # Errors
/// A `MailstateError` for a malformed input.
#[wasm_bindgen(js_name = eventKey, unchecked_return_type = "string")]
pub fn event_key(
    #[wasm_bindgen(unchecked_param_type = "EventKeyInput")] input: &JsValue,
) -> Result<JsValue, JsValue> {
    run("event_key", input)
}

/// Message states of a set of events, one per (message_id, recipient).
///
/// # Errors
/// A `MailstateError` for a malformed event.
#[wasm_bindgen(js_name = reduce, unchecked_return_type = "StateView[]")]
pub fn reduce(
    #[wasm_bindgen(unchecked_param_type = "EventsInput")] input: &JsValue,
) -> Result<JsValue, JsValue> {
    run("reduce", input)
}

/// Apply events to a mergeable state (op `apply`).
///
/// # Errors
/// A `MailstateError` for a malformed state or event.
#[wasm_bindgen(js_name = applyEvent, unchecked_return_type = "MessageState")]
pub fn apply_event(
    #[wasm_bindgen(unchecked_param_type = "ApplyInput")] input: &JsValue,
) -> Result<JsValue, JsValue> {
    run("apply", input)
}

/// Merge mergeable states (op `merge`).
///
/// # Errors
/// A `MailstateError` for a malformed state.
#[wasm_bindgen(js_name = mergeStates, unchecked_return_type = "MessageState")]
pub fn merge_states(
    #[wasm_bindgen(unchecked_param_type = "MergeInput")] input: &JsValue,
) -> Result<JsValue, JsValue> {
    run("merge", input)
}

/// The derived view of a mergeable state (op `view`).
///
/// # Errors
/// A `MailstateError` for a malformed state.
#[wasm_bindgen(js_name = viewState, unchecked_return_type = "StateView")]
pub fn view_state(
    #[wasm_bindgen(unchecked_param_type = "ViewInput")] input: &JsValue,
) -> Result<JsValue, JsValue> {
    run("view", input)
}

/// Active suppressions of the recipients of a set of events.
///
/// # Errors
/// A `MailstateError` for a malformed event or policy.
#[wasm_bindgen(js_name = suppressions, unchecked_return_type = "Suppression[]")]
pub fn suppressions(
    #[wasm_bindgen(unchecked_param_type = "SuppressionsInput")] input: &JsValue,
) -> Result<JsValue, JsValue> {
    run("suppressions", input)
}

/// The route of each event.
///
/// # Errors
/// A `MailstateError` for a malformed event or policy.
#[wasm_bindgen(js_name = route, unchecked_return_type = "RouteDecision[]")]
pub fn route(
    #[wasm_bindgen(unchecked_param_type = "RouteInput")] input: &JsValue,
) -> Result<JsValue, JsValue> {
    run("route", input)
}

/// Verify, normalize and route one webhook request, and say which HTTP status to answer with
/// (op `webhook`), with the signature checked in wasm. The package's `handleWebhook` (async)
/// checks public-key signatures with the runtime's WebCrypto instead and gives the same
/// answers.
///
/// # Errors
/// A `MailstateError` only for the caller's own mistakes (a malformed policy, no `verify`
/// option, a body that is not bytes or text); a bad request is a result with a 4xx status.
#[wasm_bindgen(js_name = handleWebhookSync, unchecked_return_type = "WebhookResult")]
pub fn handle_webhook_sync(
    #[wasm_bindgen(unchecked_param_type = "ProviderName | string")] provider: &str,
    #[wasm_bindgen(unchecked_param_type = "WebhookRequest")] request: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "WebhookOptions")] options: &JsValue,
) -> Result<JsValue, JsValue> {
    let call = WebhookCall::read(provider, request, options)?;
    outcome(&handle_webhook(&call.provider, &call.headers, &call.body, &call.options))
}

/// One `handleWebhook` call in two steps, for a host that checks the signature with its own
/// crypto: the request and options are read once; [`WebhookCall::algorithm`] says whether
/// there is a signature to check, and [`WebhookCall::finish`] takes the answer. Core keeps
/// every rule (headers, tolerance, key formats, which bytes are signed) and the status.
/// Used by the package's `handleWebhook`; call that instead (it has no TypeScript type: it is
/// not part of the API, and its generated `[Symbol.dispose]` needs TypeScript's `esnext` lib).
#[wasm_bindgen(skip_typescript)]
#[derive(Debug)]
#[allow(unnameable_types, reason = "exported to JavaScript by wasm-bindgen, not to Rust callers")]
pub struct WebhookCall {
    provider: String,
    headers: Headers,
    body: Vec<u8>,
    options: Rc<WebhookOptions>,
    check: Option<HostCheck>,
    /// The lengths and markers of the last [`WebhookCall::finish`]'s events (see [`encode`]).
    tape: Vec<u32>,
}

/// Webhook options read once (`WebhookOptions::from_json` of their `JSON.stringify` text), for
/// the calls that use the same options: the package keeps one per options text.
#[wasm_bindgen(skip_typescript)]
#[derive(Debug)]
#[allow(unnameable_types, reason = "exported to JavaScript by wasm-bindgen, not to Rust callers")]
pub struct WebhookSettings(Rc<WebhookOptions>);

#[wasm_bindgen]
impl WebhookSettings {
    /// Read the options' JSON text.
    ///
    /// # Errors
    /// A `MailstateError` for malformed options, as `handleWebhookSync` throws it.
    #[wasm_bindgen(constructor)]
    pub fn new(json: &str) -> Result<WebhookSettings, JsValue> {
        WebhookOptions::from_json(json.as_bytes())
            .map(|o| WebhookSettings(Rc::new(o)))
            .map_err(|e| throw(&e))
    }

    /// The only headers a call for `provider` with these options reads (core's
    /// `WebhookOptions::header_names`), as `name\0unless\0name\0unless…`: each lower-case
    /// name and the header whose presence makes it irrelevant (`""`: none), `""` for no
    /// header; `undefined` when every header must be read.
    #[wasm_bindgen(js_name = headerNames)]
    pub fn header_names(&self, provider: &str) -> Option<String> {
        let names = self.0.header_names(provider)?;
        let mut out = String::new();
        for (i, h) in names.iter().enumerate() {
            if i > 0 {
                out.push('\0');
            }
            out.push_str(h.as_str());
            out.push('\0');
            out.push_str(h.unless().unwrap_or_default());
        }
        Some(out)
    }

    /// [`WebhookCall::prepare`] and [`WebhookCall::finish`] in one call, for the usual case
    /// (no signature left for the host's crypto): the result's text, its tape left for
    /// [`WebhookCall::take_tape`]. When `host` is set and there is a check for the host to
    /// run, `undefined`: the prepared call is left for [`WebhookCall::take_pending`]. Each call
    /// across the boundary costs (about half a microsecond in workerd), and a Loops request
    /// makes one per event.
    pub fn run(
        &self,
        provider: &str,
        headers: &str,
        bytes: Option<Vec<u8>>,
        text: Option<String>,
        host: bool,
    ) -> Option<String> {
        let mut call = WebhookCall::prepare(provider, headers, bytes, text, self, host);
        if call.check.is_some() {
            PENDING.with(|p| *p.borrow_mut() = Some(call));
            return None;
        }
        let text = call.finish(None);
        TAPE.with(|t| *t.borrow_mut() = std::mem::take(&mut call.tape));
        Some(text)
    }
}

thread_local! {
    /// The tape of the last [`WebhookSettings::run`] (see [`encode`]).
    static TAPE: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    /// The call the last [`WebhookSettings::run`] left for the host's crypto.
    static PENDING: RefCell<Option<WebhookCall>> = const { RefCell::new(None) };
}

#[wasm_bindgen]
impl WebhookCall {
    /// Read the request and options (any shape `handleWebhookSync` takes) and, with `host`,
    /// prepare the signature check, if the provider's scheme has one the host can run.
    ///
    /// # Errors
    /// As `handleWebhookSync`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "ProviderName | string")] provider: &str,
        #[wasm_bindgen(unchecked_param_type = "WebhookRequest")] request: &JsValue,
        #[wasm_bindgen(unchecked_param_type = "WebhookOptions")] options: &JsValue,
        host: bool,
    ) -> Result<WebhookCall, JsValue> {
        let mut call = WebhookCall::read(provider, request, options)?;
        if host {
            call.check =
                webhook_host_check(&call.provider, &call.headers, &call.body, &call.options);
        }
        Ok(call)
    }

    /// The package's fast reading of a request: the headers as `name\0value\0…` text (no
    /// headers: empty), the body as bytes or as text, the options read beforehand. With `host`,
    /// prepare the signature check for the host's crypto as the constructor does.
    pub fn prepare(
        provider: &str,
        headers: &str,
        bytes: Option<Vec<u8>>,
        text: Option<String>,
        settings: &WebhookSettings,
        host: bool,
    ) -> WebhookCall {
        let mut map = BTreeMap::new();
        if !headers.is_empty() {
            let mut parts = headers.split('\0');
            while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
                map.insert(name, value);
            }
        }
        let body = bytes.or_else(|| text.map(String::into_bytes)).unwrap_or_default();
        let mut call = WebhookCall {
            provider: provider.to_owned(),
            headers: map.into_iter().collect(),
            body,
            options: Rc::clone(&settings.0),
            check: None,
            tape: Vec::new(),
        };
        if host {
            call.check =
                webhook_host_check(&call.provider, &call.headers, &call.body, &call.options);
        }
        call
    }

    /// The algorithm when a signature is left for the host to check (`"ecdsa_p256_sha256"`,
    /// `"rsa_pkcs1v15_sha256"`, `"rsa_pkcs1v15_sha1"`), `undefined` when core answers alone.
    #[wasm_bindgen(getter)]
    pub fn algorithm(&self) -> Option<String> {
        self.check.as_ref().map(|c| c.algorithm().as_str().to_owned())
    }

    /// How many candidate keys the check has.
    #[wasm_bindgen(getter, js_name = keyCount)]
    pub fn key_count(&self) -> usize {
        self.check.as_ref().map_or(0, |c| c.keys().len())
    }

    /// The index, among the configured `verify.keys`, of candidate `i`.
    #[wasm_bindgen(js_name = keyIndex)]
    pub fn key_index(&self, i: usize) -> Option<usize> {
        self.check.as_ref()?.keys().get(i).map(|k| k.0)
    }

    /// Candidate `i` in WebCrypto's import form: `raw` (an uncompressed SEC1 point) for ECDSA,
    /// `spki` (DER SubjectPublicKeyInfo) for RSA.
    pub fn key(&self, i: usize) -> Option<Vec<u8>> {
        self.check.as_ref()?.keys().get(i).map(|k| k.1.clone())
    }

    /// The signature in WebCrypto's form (`r ‖ s` for ECDSA).
    #[wasm_bindgen(getter)]
    pub fn signature(&self) -> Option<Vec<u8>> {
        self.check.as_ref().map(|c| c.signature().to_vec())
    }

    /// The bytes the provider signed.
    #[wasm_bindgen(getter)]
    pub fn message(&self) -> Option<Vec<u8>> {
        self.check.as_ref().map(|c| c.message().to_vec())
    }

    /// The result, given the index (among `verify.keys`) of the key under which the host
    /// found the signature valid, or `undefined` for none. Without a check the answer is
    /// core's alone and the argument is ignored.
    ///
    /// # Errors
    /// Never in practice: the inputs were read by the constructor.
    ///
    /// The result comes back in two parts that the package's `webhook.js` turns into the
    /// `WebhookResult`: this text, and the numbers [`WebhookCall::tape`] hands over next (see
    /// [`encode`]); no JSON is written for the events, nor parsed.
    pub fn finish(&mut self, accepted: Option<usize>) -> String {
        let (provider, headers, body, options) =
            (&self.provider, &self.headers, &self.body, &*self.options);
        let out = if self.check.is_none() {
            handle_webhook(provider, headers, body, options)
        } else {
            let verdict = accepted.map_or(HostVerdict::Rejected, HostVerdict::Accepted);
            handle_webhook_with_host(provider, headers, body, options, verdict)
        };
        let mut text = String::new();
        let mut tape = Vec::new();
        encode(&out, &mut text, &mut tape);
        self.tape = tape;
        text
    }

    /// The numbers of the last [`WebhookCall::finish`] (taken: a second call gets none).
    pub fn tape(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.tape)
    }

    /// The tape of the last [`WebhookSettings::run`] that answered (taken).
    #[wasm_bindgen(js_name = takeTape)]
    pub fn take_tape() -> Vec<u32> {
        TAPE.with(|t| std::mem::take(&mut *t.borrow_mut()))
    }

    /// The call the last [`WebhookSettings::run`] left for the host's crypto (taken).
    #[wasm_bindgen(js_name = takePending)]
    pub fn take_pending() -> Option<WebhookCall> {
        PENDING.with(|p| p.borrow_mut().take())
    }
}

/// The tape's mark of an absent (`null`) value.
const NONE: u32 = u32::MAX;

/// Write a webhook outcome for `webhook.js`'s decoder, in two parts:
/// - `text`: the outcome's JSON without `routes` ([`WebhookOutcome::head_json`]), then every
///   string of the routed events, one after the other, unescaped;
/// - `tape`: the head's length (or, when the head has no error, element errors, control,
///   confirmation URL or answer, [`NONE`], the status and `verified` as 0 or 1, and no head in the
///   text), then for each route in the output's order (`analytics`,
///   `drop`, `state`, `suppress`) its event count and, for each event, its members in the
///   output's key order: a string as its length, `null` as [`NONE`], `tags` as a count and
///   its strings, `metadata` as a count and its keys and values.
///
/// Lengths count UTF-16 code units, JavaScript's string indexes, so the decoder slices the
/// text it got without decoding anything again.
fn encode(out: &WebhookOutcome<'_>, text: &mut String, tape: &mut Vec<u32>) {
    let routes = [Route::Analytics, Route::Drop, Route::State, Route::Suppress];
    let raw: usize = routes.iter().flat_map(|r| out.route(*r)).map(|e| e.raw.len()).sum();
    text.reserve(2 * raw);
    tape.reserve(3 + routes.iter().map(|r| 24 * out.route(*r).len()).sum::<usize>());
    if out.error().is_none()
        && out.errors().is_empty()
        && out.control().is_none()
        && out.confirm_url().is_none()
        && out.answer().is_none()
    {
        // The usual head, all null but the status and `verified`: two numbers, no JSON.
        tape.extend([NONE, u32::from(out.status()), u32::from(out.verified())]);
    } else {
        let head = out.head_json();
        tape.push(utf16_len(&head));
        text.push_str(&head);
    }
    let mut w = Tape { text, tape };
    for route in routes {
        let events = out.route(route);
        w.tape.push(u32::try_from(events.len()).unwrap_or(NONE));
        for e in events {
            w.event(e);
        }
    }
}

/// The writer of [`encode`].
struct Tape<'w> {
    text: &'w mut String,
    tape: &'w mut Vec<u32>,
}

impl Tape<'_> {
    fn str(&mut self, s: &str) {
        self.tape.push(utf16_len(s));
        self.text.push_str(s);
    }

    fn opt<S: AsRef<str>>(&mut self, s: Option<S>) {
        match s {
            Some(s) => self.str(s.as_ref()),
            None => self.tape.push(NONE),
        }
    }

    fn event(&mut self, e: &BorrowedEvent<'_>) {
        self.opt(e.automated.map(mailstate_core::Automated::as_str));
        self.opt(e.bounce_category.map(mailstate_core::BounceCategory::as_str));
        self.opt(e.bounce_class.map(mailstate_core::BounceClass::as_str));
        self.opt(e.diagnostic.as_deref());
        self.opt(e.enhanced_status.as_deref());
        self.str(&e.event_key);
        self.opt(e.ip.as_deref());
        self.opt(e.message_id.as_deref());
        self.tape.push(u32::try_from(e.metadata.len()).unwrap_or(NONE));
        for (k, v) in &e.metadata {
            self.str(k);
            self.str(v);
        }
        match &e.occurred_at {
            Some(t) => {
                let start = self.text.len();
                // Writing to a String cannot fail; the text is ASCII.
                let _ = std::fmt::Write::write_fmt(self.text, format_args!("{t}"));
                self.tape.push(u32::try_from(self.text.len() - start).unwrap_or(NONE));
            }
            None => self.tape.push(NONE),
        }
        self.str(&e.provider);
        self.opt(e.provider_event_id.as_deref());
        self.str(&e.provider_type);
        self.str(&e.raw);
        self.opt(e.recipient.as_deref());
        self.opt(e.smtp_message_id.as_deref());
        self.opt(e.smtp_status.as_deref());
        self.opt(e.stream.as_deref());
        let tags = e.tags.as_slice();
        self.tape.push(u32::try_from(tags.len()).unwrap_or(NONE));
        for t in tags {
            self.str(t);
        }
        self.str(e.kind.as_str());
        self.opt(e.url.as_deref());
        self.opt(e.user_agent.as_deref());
    }
}

/// The length of `s` in UTF-16 code units.
fn utf16_len(s: &str) -> u32 {
    let n = if s.is_ascii() { s.len() } else { s.encode_utf16().count() };
    u32::try_from(n).unwrap_or(NONE)
}

impl WebhookCall {
    /// The request's headers and body bytes and the options, read once.
    fn read(provider: &str, request: &JsValue, options: &JsValue) -> Result<WebhookCall, JsValue> {
        let options = if options.is_undefined() || options.is_null() {
            // Read as `{}`, so core names the missing `verify`.
            "{}".to_owned()
        } else {
            stringify(options)?
        };
        let options = WebhookOptions::from_json(options.as_bytes()).map_err(|e| throw(&e))?;
        let headers = stringify(&headers_object(&Reflect::get(request, &"headers".into())?)?)?;
        let headers: BTreeMap<String, String> = serde_json::from_str(&headers).unwrap_or_default();
        let body = Reflect::get(request, &"body".into())?;
        let body = if let Some(text) = body.as_string() {
            text.into_bytes()
        } else if let Some(buf) = body.dyn_ref::<js_sys::ArrayBuffer>() {
            Uint8Array::new(buf).to_vec()
        } else if let Some(arr) = body.dyn_ref::<Uint8Array>() {
            arr.to_vec()
        } else {
            return Err(local_error(
                ErrorKind::TypeMismatch,
                "expected a Uint8Array, ArrayBuffer or string at request.body",
            ));
        };
        Ok(WebhookCall {
            provider: provider.to_owned(),
            headers: headers.into_iter().collect(),
            body,
            options: Rc::new(options),
            check: None,
            tape: Vec::new(),
        })
    }
}

/// The outcome as a JavaScript object: its JSON text, parsed once.
fn outcome(out: &WebhookOutcome<'_>) -> Result<JsValue, JsValue> {
    JSON::parse(&out.to_json())
}

/// A core error as the `MailstateError` every function throws.
fn throw(e: &Error) -> JsValue {
    match into_result(&wire::error_envelope(e)) {
        Err(e) | Ok(e) => e,
    }
}

/// `JSON.stringify(value)` as a Rust string (`null` for `undefined`).
fn stringify(value: &JsValue) -> Result<String, JsValue> {
    let json = JSON::stringify(value)
        .map_err(|_| local_error(ErrorKind::InvalidJson, "the input cannot be encoded as json"))?;
    Ok(json.as_string().unwrap_or_else(|| "null".to_owned()))
}

/// Headers as a plain `{name: value}` object, from an object, a `Headers`, a `Map` or pairs.
fn headers_object(headers: &JsValue) -> Result<JsValue, JsValue> {
    if headers.is_undefined() || headers.is_null() {
        return Ok(Object::new().into());
    }
    let pairs = if let Some(iter) = js_sys::try_iter(headers)? {
        iter.collect::<Result<Vec<_>, _>>()?
    } else {
        Object::entries(&headers.clone().unchecked_into()).iter().collect()
    };
    let out = Object::new();
    for pair in pairs {
        let pair: Array = pair.unchecked_into();
        Reflect::set(&out, &pair.get(0), &pair.get(1))?;
    }
    Ok(out.into())
}
