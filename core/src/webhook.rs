//! The edge's whole decision about one webhook request: verify, normalize, route, and the HTTP
//! status to answer the provider with.
//!
//! Providers retry a webhook when the answer says retrying could help, so the status is part
//! of the rules, not of the worker:
//!
//! | outcome | status | why |
//! |---|---|---|
//! | events stored or routed (some elements may have failed) | 200 | retrying the same bytes gives the same element errors |
//! | a control message (SNS subscription confirmation, ping, Event Grid validation, CloudEvents `OPTIONS`) | 200 | nothing to store; `confirm_url` says what to visit, `answer` (only present for the handshakes that need it) the exact status, headers and body to answer with |
//! | signature or credentials rejected | 401 | a forged or stale request must not be retried into acceptance |
//! | body malformed, not this provider's shape | 400 | the same bytes will fail again |
//! | body too large | 413 | the same bytes will fail again |
//! | provider slug unknown | 404 | no such endpoint |
//! | normalizer or verifier unavailable, verification misconfigured (a configured key that is not a key) | 500 / 501 | retry: the fix is on our side and the provider's retry delivers the event later |
//!
//! The wire op is `webhook`: input `{"provider", "headers"?, "body" | "body_base64",
//! "verify": {…} | null, "policy"?: RoutingPolicy, "seen"?: [event_key]}`. `verify` is
//! required: an object runs the `verify` op with the provider, headers and body added to it;
//! `null` skips verification on purpose (a source authenticated some other way). Output:
//! `{"status", "verified", "error", "routes": {"suppress", "state", "analytics", "drop"},
//! "errors", "control", "confirm_url", "answer"?}`. Malformed *options* (a bad policy, a missing `verify`)
//! are the caller's bug and come back as a wire error, not as a status.
//!
//! [`handle_webhook`] is the typed entry point the op is a thin shell over: the body as bytes,
//! the options parsed once ([`WebhookOptions`]), the answer a [`WebhookOutcome`] that
//! serializes straight to the op's output text. A host with its own crypto (WebCrypto in a
//! worker) asks [`webhook_host_check`] for the signature math, runs it, and passes the answer
//! to [`handle_webhook_with_host`]; every rule and the status stay here.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::error::{Error, ErrorKind};
use crate::json::{Each, ErrorObject, SortedControl, SortedEvent};
use crate::route::{Route, RoutingPolicy};
use crate::verify::{
    HostCheck, HostVerdict, Keys, SignedRequest, VerifyOptions, prepare_host_check, verify,
    verify_with_host,
};
use crate::{
    Answer, BorrowedEvent, Control, ControlKind, Headers, Provider, Timestamp,
    provider::normalize_body,
};

/// A request header a webhook call reads (see [`WebhookOptions::header_names`]): its name, and
/// the header whose presence makes it irrelevant, if any (Standard Webhooks' `svix-` names
/// count only when `webhook-id` is absent).
///
/// # Example
/// ```
/// use mailstate_core::webhook::WebhookOptions;
/// let opts = WebhookOptions::from_json(br#"{"verify": {"secrets": ["s"], "now": 1}}"#).unwrap();
/// let names = opts.header_names("loops").unwrap();
/// let svix = names.iter().find(|h| h.as_str() == "svix-id").unwrap();
/// assert_eq!(svix.unless(), Some("webhook-id"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderName {
    name: Cow<'static, str>,
    unless: Option<&'static str>,
}

impl HeaderName {
    /// A header read whatever else the request holds.
    pub(crate) const fn always(name: &'static str) -> HeaderName {
        HeaderName { name: Cow::Borrowed(name), unless: None }
    }

    /// A header named at run time (a configured token header).
    pub(crate) fn owned(name: &str) -> HeaderName {
        HeaderName { name: Cow::Owned(name.to_owned()), unless: None }
    }

    /// A header that matters only when `other` is absent.
    pub(crate) const fn unless_present(name: &'static str, other: &'static str) -> HeaderName {
        HeaderName { name: Cow::Borrowed(name), unless: Some(other) }
    }

    /// The name, lower-case in [`WebhookOptions::header_names`]'s lists.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The header whose presence makes this one irrelevant: when the request holds it, this
    /// one need not be read.
    pub fn unless(&self) -> Option<&str> {
        self.unless
    }
}

/// The caller's settings of one webhook call, read once: how to verify, the routing policy,
/// the event keys already seen.
///
/// Options that are malformed as a whole (a bad policy, `verify` neither an object nor null)
/// are an error here. Bad *verification* settings (a key that is not a key, no `now`) are not:
/// they make [`handle_webhook`] answer 500, since the provider's retry can succeed once the
/// configuration is fixed.
///
/// # Example
/// ```
/// use mailstate_core::webhook::WebhookOptions;
/// let opts = WebhookOptions::from_json(br#"{"verify": null, "seen": ["sendgrid:a"]}"#).unwrap();
/// assert!(!opts.verifies());
/// let err = WebhookOptions::from_json(br#"{"verify": true}"#).unwrap_err();
/// assert_eq!(err.code(), "type_mismatch");
/// ```
#[derive(Debug)]
pub struct WebhookOptions {
    /// `None`: verification skipped on purpose.
    verify: Option<Box<VerifyConfig>>,
    policy: RoutingPolicy,
    seen: Vec<String>,
}

/// The `verify` options as read, with the errors kept for the verify step (in the order the
/// `verify` op reports them: the options, then the provider, the keys, `now`).
#[derive(Debug)]
struct VerifyConfig {
    settings: Result<VerifySettings, Error>,
}

/// The typed inputs of the verify API but the request, as read from the caller's options:
/// errors reading the keys or `now` wait for the verify step.
#[derive(Debug)]
pub(crate) struct VerifySettings {
    pub(crate) keys: Result<Keys, Error>,
    pub(crate) now: Result<Timestamp, Error>,
    pub(crate) url: Option<String>,
    pub(crate) form: Option<Vec<(String, String)>>,
    pub(crate) tolerance_secs: Option<u32>,
    pub(crate) seen_tokens: BTreeSet<String>,
    pub(crate) token_header: Option<String>,
    pub(crate) standard_webhooks: bool,
}

impl WebhookOptions {
    /// Options as the wire reads them: `verify` `None` to skip verification, or its settings
    /// (an error there is kept for the verify step).
    pub(crate) fn from_parts(
        verify: Option<Result<VerifySettings, Error>>,
        policy: RoutingPolicy,
        seen: Vec<String>,
    ) -> WebhookOptions {
        let verify = verify.map(|settings| Box::new(VerifyConfig { settings }));
        WebhookOptions { verify, policy, seen }
    }

    /// No verification, on purpose (a source authenticated some other way), the default
    /// policy, nothing seen.
    pub fn unverified() -> WebhookOptions {
        WebhookOptions { verify: None, policy: RoutingPolicy::default(), seen: Vec::new() }
    }

    /// Verify with these keys at `now` (the default tolerance, no seen tokens), the default
    /// policy, nothing seen.
    ///
    /// # Example
    /// ```
    /// use mailstate_core::{Headers, Timestamp, verify::Keys, webhook::{WebhookOptions, handle_webhook}};
    /// let now = Timestamp::from_millis(1_767_225_600_000).unwrap();
    /// let opts = WebhookOptions::verified(Keys::new().with_secret("s3cret"), now)
    ///     .with_seen(["mailersend:e1".to_owned()]);
    /// // MailerSend signs the body with HMAC-SHA256 in `Signature`; this request has none.
    /// let out = handle_webhook("mailersend", &Headers::new(), b"{}", &opts);
    /// assert_eq!(out.status(), 401);
    /// assert_eq!(out.error().unwrap().code(), "missing_header");
    /// ```
    pub fn verified(keys: Keys, now: Timestamp) -> WebhookOptions {
        let settings = VerifySettings {
            keys: Ok(keys),
            now: Ok(now),
            url: None,
            form: None,
            tolerance_secs: None,
            seen_tokens: BTreeSet::new(),
            token_header: None,
            standard_webhooks: false,
        };
        WebhookOptions {
            verify: Some(Box::new(VerifyConfig { settings: Ok(settings) })),
            policy: RoutingPolicy::default(),
            seen: Vec::new(),
        }
    }

    /// Route with `policy`.
    #[must_use]
    pub fn with_policy(mut self, policy: RoutingPolicy) -> WebhookOptions {
        self.policy = policy;
        self
    }

    /// Treat events with these keys as duplicates (`drop`).
    #[must_use]
    pub fn with_seen(mut self, keys: impl IntoIterator<Item = String>) -> WebhookOptions {
        self.seen.extend(keys);
        self
    }

    /// Accept signed times this many seconds from `now` (see [`VerifyOptions::with_tolerance_secs`]);
    /// no effect without verification.
    #[must_use]
    pub fn with_tolerance_secs(mut self, secs: u32) -> WebhookOptions {
        if let Some(Ok(s)) = self.verify.as_mut().map(|c| c.settings.as_mut()) {
            s.tolerance_secs = Some(secs);
        }
        self
    }

    /// Whether a signature or credential check is configured (`verify` is not `null`).
    pub fn verifies(&self) -> bool {
        self.verify.is_some()
    }

    /// The request headers a call for `provider` with these options reads, lower-case, each
    /// once: the provider's normalizer's and, when verification is configured, its check's
    /// (with the configured token header). No other header can change the outcome, so a host
    /// whose headers are read one name at a time (a Fetch `Headers`) needs only these, and of
    /// them not those whose [`HeaderName::unless`] header it found: the names a list makes
    /// conditional come after every name they depend on. `None` when `provider` is not a
    /// provider's slug: then read every header.
    ///
    /// # Example
    /// ```
    /// use mailstate_core::webhook::WebhookOptions;
    /// let names = |opts: &WebhookOptions, provider| -> Vec<String> {
    ///     let list = opts.header_names(provider).unwrap();
    ///     list.iter().map(|h| h.as_str().to_owned()).collect()
    /// };
    /// let unverified = WebhookOptions::unverified();
    /// assert_eq!(names(&unverified, "loops"), ["webhook-id"]);
    /// assert!(names(&unverified, "sendgrid").is_empty());
    /// let json = br#"{"verify": {"secrets": ["s"], "now": 1}}"#;
    /// let opts = WebhookOptions::from_json(json).unwrap();
    /// assert!(names(&opts, "loops").iter().any(|n| n == "webhook-signature"));
    /// assert_eq!(opts.header_names("auto"), None);
    /// ```
    pub fn header_names(&self, provider: &str) -> Option<Vec<HeaderName>> {
        let provider: Provider = provider.parse().ok()?;
        let mut names: Vec<HeaderName> = Vec::new();
        let mut add = |h: HeaderName| {
            let name = h.name.to_ascii_lowercase();
            match names.iter_mut().find(|n| n.name == name) {
                // Read by two rules on different conditions: read it always.
                Some(n) if n.unless != h.unless => n.unless = None,
                Some(_) => {}
                None => names.push(HeaderName { name: Cow::Owned(name), unless: h.unless }),
            }
        };
        provider.header_names().iter().cloned().for_each(&mut add);
        // Options that did not read fail the check before it reads any header.
        if let Some(Ok(settings)) = self.verify.as_ref().map(|c| &c.settings) {
            settings.header_names(provider).into_iter().for_each(&mut add);
        }
        // Unconditional names first, so a host has read a condition before the names it rules.
        let (mut always, conditional): (Vec<_>, Vec<_>) =
            names.into_iter().partition(|n| n.unless.is_none());
        always.extend(conditional);
        Some(always)
    }
}

impl VerifyConfig {
    /// Run the check, in core or with the host's verdict.
    fn run(
        &self,
        provider: &Result<Provider, Error>,
        headers: &Headers,
        body: &[u8],
        verdict: Option<HostVerdict>,
    ) -> Result<(), Error> {
        self.with_inputs(provider, headers, body, |provider, request, keys, now, opts| {
            match verdict {
                None => verify(provider, request, keys, now, opts),
                Some(v) => verify_with_host(provider, request, keys, now, opts, v),
            }
            .map(drop)
        })
    }

    /// Call `f` with the typed inputs of the verify API, or return the error reading them (the
    /// options', then the provider slug's).
    fn with_inputs<T>(
        &self,
        provider: &Result<Provider, Error>,
        headers: &Headers,
        body: &[u8],
        f: impl FnOnce(
            Provider,
            &SignedRequest<'_>,
            &Keys,
            Timestamp,
            &VerifyOptions<'_>,
        ) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let s = self.settings.as_ref().map_err(Clone::clone)?;
        s.with_inputs(provider.clone()?, headers, body, f)
    }
}

impl VerifySettings {
    /// The headers the check configured here reads for `provider` (see
    /// [`WebhookOptions::header_names`]).
    fn header_names(&self, provider: Provider) -> Vec<HeaderName> {
        let mut opts = VerifyOptions::new();
        if let Some(h) = &self.token_header {
            opts = opts.with_token_header(h);
        }
        if self.standard_webhooks {
            opts = opts.with_standard_webhooks();
        }
        crate::verify::header_names(provider, &opts)
    }

    /// Call `f` with the typed inputs of the verify API, or return the error reading them.
    pub(crate) fn with_inputs<T>(
        &self,
        provider: Provider,
        headers: &Headers,
        body: &[u8],
        f: impl FnOnce(
            Provider,
            &SignedRequest<'_>,
            &Keys,
            Timestamp,
            &VerifyOptions<'_>,
        ) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let keys = self.keys.as_ref().map_err(Clone::clone)?;
        let now = self.now.clone()?;
        let mut request = SignedRequest::new(body, headers);
        if let Some(url) = &self.url {
            request = request.with_url(url);
        }
        if let Some(form) = &self.form {
            request = request.with_form(form);
        }
        let mut opts = VerifyOptions::new().with_seen_tokens(&self.seen_tokens);
        if let Some(t) = self.tolerance_secs {
            opts = opts.with_tolerance_secs(t);
        }
        if let Some(h) = &self.token_header {
            opts = opts.with_token_header(h);
        }
        if self.standard_webhooks {
            opts = opts.with_standard_webhooks();
        }
        f(provider, &request, keys, now, &opts)
    }
}

/// The status for an error from the verify step.
fn verify_status(e: &Error) -> u16 {
    // Key material the caller configured (`keys[0]` that is not a key) is our mistake, even
    // though its kind (`bad_encoding`) is one a forged signature header also produces.
    let configured = e.path().is_some_and(|p| p.starts_with("keys") || p.starts_with("secrets"));
    if e.kind().is_authentication() && !configured {
        401
    } else {
        // A bad key or option: our side, so let the provider retry once it is fixed.
        500
    }
}

/// The status for an error normalizing the whole payload.
fn normalize_status(e: &Error) -> u16 {
    match e.kind() {
        ErrorKind::UnknownProvider => 404,
        ErrorKind::TooLarge => 413,
        ErrorKind::Unsupported => 501,
        _ => 400,
    }
}

/// Verify, normalize and route one webhook request, and choose the HTTP status to answer the
/// provider with (the table in the module docs). `provider` is a slug as the endpoint got it
/// (an unknown one answers 404). The outcome's events borrow their text from `body` (see
/// [`crate::normalize_borrowed`]).
///
/// # Example
/// ```
/// use mailstate_core::{Headers, route::Route, webhook::{WebhookOptions, handle_webhook}};
/// let opts = WebhookOptions::from_json(br#"{"verify": null}"#).unwrap();
/// let body = br#"{"event_key":"k1","provider":"ses","type":"complaint","provider_type":"Complaint","recipient":"ann@example.com"}"#;
/// let out = handle_webhook("ndjson", &Headers::new(), body, &opts);
/// assert_eq!(out.status(), 200);
/// assert_eq!(out.route(Route::Suppress).len(), 1);
/// assert!(out.to_json().starts_with(r#"{"confirm_url":null,"control":null,"error":null,"errors":[],"routes":{"analytics":[],"#));
/// ```
pub fn handle_webhook<'a>(
    provider: &str,
    headers: &Headers,
    body: &'a [u8],
    options: &WebhookOptions,
) -> WebhookOutcome<'a> {
    run(provider, headers, body, options, None)
}

/// The signature math of this request for the host's own crypto, when verification is
/// configured, the provider's scheme has a host form (see [`prepare_host_check`]) and every
/// other rule passed. `None` otherwise: call [`handle_webhook`], which answers alike.
pub fn webhook_host_check(
    provider: &str,
    headers: &Headers,
    body: &[u8],
    options: &WebhookOptions,
) -> Option<HostCheck> {
    let config = options.verify.as_ref()?;
    config
        .with_inputs(&provider.parse(), headers, body, |provider, request, keys, now, opts| {
            prepare_host_check(provider, request, keys, now, opts)
        })
        .ok()
        .flatten()
}

/// [`handle_webhook`] with the signature math answered by the host's crypto, for the check
/// [`webhook_host_check`] returned for the same request and options. Every other rule runs
/// again here; for a request without a host check the verdict is ignored.
pub fn handle_webhook_with_host<'a>(
    provider: &str,
    headers: &Headers,
    body: &'a [u8],
    options: &WebhookOptions,
    verdict: HostVerdict,
) -> WebhookOutcome<'a> {
    run(provider, headers, body, options, Some(verdict))
}

fn run<'a>(
    provider: &str,
    headers: &Headers,
    body: &'a [u8],
    options: &WebhookOptions,
    verdict: Option<HostVerdict>,
) -> WebhookOutcome<'a> {
    // Read once: the check reports a bad slug first when it runs, the normalizer otherwise.
    let parsed: Result<Provider, Error> = provider.parse();
    let verified = match &options.verify {
        None => false,
        // Unisender Go's GET probe has an empty body and no `auth` to check: it carries nothing
        // to store, and must be answered 200 for the webhook to be set.
        Some(_) if provider == "unisender_go" && body.trim_ascii().is_empty() => false,
        Some(config) => match config.run(&parsed, headers, body, verdict) {
            Ok(()) => true,
            Err(e) => return WebhookOutcome::refusal(verify_status(&e), e, false),
        },
    };
    let provider: Provider = match parsed {
        Ok(p) => p,
        Err(e) => return WebhookOutcome::refusal(normalize_status(&e), e, verified),
    };
    // Borrowed events: the answer is serialized from them, the body's text is not copied.
    let out = match normalize_body(provider, body, headers) {
        Ok(out) => out,
        Err(e) => return WebhookOutcome::refusal(normalize_status(&e), e, verified),
    };

    let mut seen: BTreeSet<&str> = options.seen.iter().map(String::as_str).collect();
    let decided: Vec<Route> = out
        .events
        .iter()
        .map(|e| {
            let dup = !seen.insert(&e.event_key);
            options.policy.route(e, dup)
        })
        .collect();
    drop(seen);
    let mut routes: [Vec<BorrowedEvent<'a>>; 4] = Default::default();
    for (event, route) in out.events.into_iter().zip(decided) {
        routes[slot(route)].push(event);
    }
    let confirm_url = out
        .control
        .as_ref()
        .filter(|c| c.kind == ControlKind::SubscriptionConfirmation)
        .and_then(|c| c.url.clone());
    let answer = out.control.as_ref().and_then(Control::answer);
    WebhookOutcome {
        status: 200,
        verified,
        error: None,
        routes,
        errors: out.errors,
        control: out.control,
        confirm_url,
        answer,
    }
}

/// The routes in the order the output lists them (by name).
const ROUTES: [Route; 4] = [Route::Analytics, Route::Drop, Route::State, Route::Suppress];

fn slot(route: Route) -> usize {
    match route {
        Route::Analytics => 0,
        Route::Drop => 1,
        Route::State => 2,
        Route::Suppress => 3,
    }
}

/// The edge's decision about one request: the status to answer with, whether it was verified,
/// and the events grouped by route.
///
/// Serializes to the `webhook` op's output: `{"confirm_url", "control", "error", "errors",
/// "routes": {"analytics", "drop", "state", "suppress"}, "status", "verified"}`, every object's
/// keys in byte order (the order every runtime's output has had).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookOutcome<'a> {
    status: u16,
    verified: bool,
    error: Option<Error>,
    routes: [Vec<BorrowedEvent<'a>>; 4],
    errors: Vec<Error>,
    control: Option<Control>,
    confirm_url: Option<String>,
    answer: Option<Answer>,
}

impl<'a> WebhookOutcome<'a> {
    fn refusal(status: u16, e: Error, verified: bool) -> WebhookOutcome<'a> {
        WebhookOutcome {
            status,
            verified,
            error: Some(e),
            routes: Default::default(),
            errors: Vec::new(),
            control: None,
            confirm_url: None,
            answer: None,
        }
    }

    /// The HTTP status to answer the provider with.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether a signature or credential check ran and passed.
    pub fn verified(&self) -> bool {
        self.verified
    }

    /// Why the request was refused, when it was.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// The events routed to `route`, in batch order.
    pub fn route(&self, route: Route) -> &[BorrowedEvent<'a>] {
        &self.routes[slot(route)]
    }

    /// Elements of the batch that could not be normalized.
    pub fn errors(&self) -> &[Error] {
        &self.errors
    }

    /// A control message (SNS subscription confirmation, ping), when the request was one.
    pub fn control(&self) -> Option<&Control> {
        self.control.as_ref()
    }

    /// For an SNS subscription confirmation: the URL to visit to confirm it.
    pub fn confirm_url(&self) -> Option<&str> {
        self.confirm_url.as_deref()
    }

    /// For a handshake that needs a particular answer (Event Grid's subscription validation,
    /// the CloudEvents `OPTIONS` request): the status, headers and body to answer with, in
    /// place of the caller's usual 200 (see [`Control::answer`]).
    pub fn answer(&self) -> Option<&Answer> {
        self.answer.as_ref()
    }

    /// The `webhook` op's output as JSON text.
    pub fn to_json(&self) -> String {
        let events: usize =
            self.routes.iter().map(|r| r.iter().map(|e| e.raw.len()).sum::<usize>()).sum();
        let mut out = SmallWrites(Vec::with_capacity(1024 + 2 * events));
        // Serializing strings, numbers and maps of them into memory cannot fail, and the
        // bytes are UTF-8.
        if serde_json::to_writer(&mut out, self).is_err() {
            return String::new();
        }
        String::from_utf8(out.0).unwrap_or_default()
    }
}

/// A byte buffer for the many short writes of JSON serialization (a key, `":"`, an escape):
/// those are copied byte by byte, since in wasm a `memory.copy` of a few bytes costs more than
/// the copy.
struct SmallWrites(Vec<u8>);

impl std::io::Write for SmallWrites {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if buf.len() <= 16 {
            for &b in buf {
                self.0.push(b);
            }
        } else {
            self.0.extend_from_slice(buf);
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Serialize for WebhookOutcome<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.serialize_members(s, true)
    }
}

/// The outcome's members but `routes` (see [`WebhookOutcome::head_json`]).
struct Head<'o, 'a>(&'o WebhookOutcome<'a>);

impl Serialize for Head<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_members(s, false)
    }
}

impl WebhookOutcome<'_> {
    /// The op's output without `routes`, for a host that hands the routed events over in a
    /// form of its own (the npm package builds them as JavaScript objects): the JSON text of
    /// every other member, keys in the same order as [`WebhookOutcome::to_json`].
    pub fn head_json(&self) -> String {
        serde_json::to_string(&Head(self)).unwrap_or_default()
    }

    fn serialize_members<S: Serializer>(&self, s: S, routes: bool) -> Result<S::Ok, S::Error> {
        let members = 6 + usize::from(routes) + usize::from(self.answer.is_some());
        let mut m = s.serialize_map(Some(members))?;
        // Present only for the handshakes that need it, so every other answer keeps its shape.
        if let Some(answer) = &self.answer {
            m.serialize_entry("answer", answer)?;
        }
        m.serialize_entry("confirm_url", &self.confirm_url)?;
        m.serialize_entry("control", &self.control.as_ref().map(SortedControl))?;
        m.serialize_entry("error", &self.error.as_ref().map(ErrorObject))?;
        m.serialize_entry("errors", &Each(&self.errors, ErrorObject))?;
        if routes {
            m.serialize_entry("routes", &Routes(&self.routes))?;
        }
        m.serialize_entry("status", &self.status)?;
        m.serialize_entry("verified", &self.verified)?;
        m.end()
    }
}

struct Routes<'o, 'a>(&'o [Vec<BorrowedEvent<'a>>; 4]);

impl Serialize for Routes<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        for (route, events) in ROUTES.iter().zip(self.0) {
            m.serialize_entry(route.as_str(), &Each(events, SortedEvent))?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::signature::{Signer, Verifier};
    use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
    use serde_json::{Value, json};

    use super::*;
    use crate::json::tests::full_event;
    use crate::verify::Verified;

    #[test]
    fn authentication_failures_answer_401_and_configuration_failures_500() {
        for kind in
            [ErrorKind::SignatureMismatch, ErrorKind::StaleTimestamp, ErrorKind::MissingHeader]
        {
            assert_eq!(verify_status(&Error::new(kind, "x")), 401, "{kind}");
        }
        assert_eq!(verify_status(&Error::new(ErrorKind::UnknownOp, "x")), 500);
        assert_eq!(verify_status(&Error::new(ErrorKind::InvalidValue, "x")), 500);
        let bad_key = Error::new(ErrorKind::BadEncoding, "x").with_path("keys[0]");
        assert_eq!(verify_status(&bad_key), 500);
        let bad_header = Error::new(ErrorKind::BadEncoding, "x").with_path("headers");
        assert_eq!(verify_status(&bad_header), 401);
    }

    #[test]
    fn malformed_bodies_answer_4xx_and_missing_normalizers_5xx() {
        assert_eq!(normalize_status(&Error::new(ErrorKind::InvalidJson, "x")), 400);
        assert_eq!(normalize_status(&Error::new(ErrorKind::WrongProvider, "x")), 400);
        assert_eq!(normalize_status(&Error::new(ErrorKind::TypeMismatch, "x")), 400);
        assert_eq!(normalize_status(&Error::new(ErrorKind::TooLarge, "x")), 413);
        assert_eq!(normalize_status(&Error::new(ErrorKind::UnknownProvider, "x")), 404);
        assert_eq!(normalize_status(&Error::new(ErrorKind::Unsupported, "x")), 501);
    }

    /// The output as the op built it before it had a typed outcome: a `serde_json::Value` tree.
    fn value_tree(o: &WebhookOutcome<'_>) -> String {
        let routes: serde_json::Map<String, Value> = ROUTES
            .iter()
            .map(|&r| (r.as_str().to_owned(), serde_json::to_value(o.route(r)).unwrap()))
            .collect();
        let object = |e: &Error| serde_json::to_value(ErrorObject(e)).unwrap();
        let errors: Vec<Value> = o.errors().iter().map(object).collect();
        serde_json::to_string(&json!({
            "status": o.status(),
            "verified": o.verified(),
            "error": o.error().map(object),
            "routes": routes,
            "errors": errors,
            "control": o.control(),
            "confirm_url": o.confirm_url(),
        }))
        .unwrap()
    }

    #[test]
    fn outcomes_serialize_as_the_value_tree_did() {
        let ndjson = format!(
            "{}\n{}\nnot json\n{}",
            serde_json::to_string(&full_event()).unwrap(),
            r#"{"event_key":"k2","provider":"ses","type":"open","provider_type":"Open"}"#,
            serde_json::to_string(&full_event()).unwrap(),
        );
        let sns = r#"{"Type":"SubscriptionConfirmation","MessageId":"m","Token":"t","TopicArn":"arn:aws:sns:us-east-1:123456789012:mail","Message":"confirm","SubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription","Timestamp":"2026-01-01T00:00:00.000Z","SignatureVersion":"1","Signature":"AA==","SigningCertURL":"https://sns.us-east-1.amazonaws.com/x.pem"}"#;
        let skip = WebhookOptions::from_json(br#"{"verify": null, "seen": ["k2"]}"#).unwrap();
        let keyed =
            WebhookOptions::from_json(br#"{"verify": {"keys": ["nope"], "now": 1}}"#).unwrap();
        for (provider, body, opts) in [
            ("ndjson", ndjson.as_str(), &skip),
            ("ses", sns, &skip),
            ("sendgrid", "[{", &skip),
            ("pigeon", "[]", &skip),
            ("sendgrid", "[]", &keyed),
        ] {
            let headers = Headers::new();
            let out = handle_webhook(provider, &headers, body.as_bytes(), opts);
            assert_eq!(out.to_json(), value_tree(&out), "{provider}");
        }
    }

    #[test]
    fn head_json_is_the_output_without_routes() {
        let skip = WebhookOptions::from_json(br#"{"verify": null}"#).unwrap();
        let keyed =
            WebhookOptions::from_json(br#"{"verify": {"keys": ["nope"], "now": 1}}"#).unwrap();
        let ndjson = format!("{}\nnot json", serde_json::to_string(&full_event()).unwrap());
        // Event Grid's subscription validation: the output has an `answer` member.
        let validation = r#"[{"id":"v1","topic":"/subscriptions/x","subject":"","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"},"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2026-03-03T12:00:00Z","metadataVersion":"1","dataVersion":"1"}]"#;
        let grid: Headers = [("aeg-event-type", "SubscriptionValidation")].into_iter().collect();
        for (provider, body, opts, headers) in [
            ("ndjson", ndjson.as_str(), &skip, Headers::new()),
            ("sendgrid", "[{", &skip, Headers::new()),
            ("sendgrid", "[]", &keyed, Headers::new()),
            ("azure_acs", validation, &skip, grid),
        ] {
            let out = handle_webhook(provider, &headers, body.as_bytes(), opts);
            assert_eq!(out.answer().is_some(), provider == "azure_acs", "{provider}");
            // The whole text with its `"routes":{…},` member cut out, byte for byte.
            let whole = out.to_json();
            let routes = whole.find(r#","routes":"#).unwrap();
            let status = whole.rfind(r#","status":"#).unwrap();
            assert_eq!(out.head_json(), format!("{}{}", &whole[..routes], &whole[status..]));
        }
    }

    use crate::encoding::encode_base64 as base64;

    /// The base64 DER SubjectPublicKeyInfo of a P-256 key, as SendGrid shows it: the fixed
    /// header (id-ecPublicKey, prime256v1) then the uncompressed point.
    fn spki(k: &SigningKey) -> String {
        let mut der = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        der.extend_from_slice(k.verifying_key().to_sec1_point(false).as_bytes());
        base64(&der)
    }

    /// What a host's crypto answers: the first key under which the signature verifies.
    fn host_answer(check: &HostCheck) -> HostVerdict {
        assert_eq!(check.algorithm(), crate::verify::HostAlgorithm::EcdsaP256Sha256);
        let sig = Signature::from_slice(check.signature()).unwrap();
        check
            .keys()
            .iter()
            .find(|(_, raw)| {
                VerifyingKey::from_sec1_bytes(raw).unwrap().verify(check.message(), &sig).is_ok()
            })
            .map_or(HostVerdict::Rejected, |&(i, _)| HostVerdict::Accepted(i))
    }

    /// (name, headers, body, options, status, whether a host check is prepared)
    type Case<'a> = (&'a str, Headers, &'a [u8], WebhookOptions, u16, bool);

    #[test]
    fn host_verdicts_give_the_answers_core_verification_gives() {
        let key = SigningKey::from_slice(&[7; 32]).unwrap();
        let other = SigningKey::from_slice(&[9; 32]).unwrap();
        let body = br#"[{"email":"ann@example.com","timestamp":1767225500,"event":"spamreport","sg_event_id":"e1"}]"#;
        let now = 1_767_225_600_i64;
        let signed = |k: &SigningKey, ts: i64, body: &[u8]| -> Headers {
            let mut msg = ts.to_string().into_bytes();
            msg.extend_from_slice(body);
            let sig: Signature = k.sign(&msg);
            [
                (
                    "X-Twilio-Email-Event-Webhook-Signature".to_owned(),
                    base64(sig.to_der().as_bytes()),
                ),
                ("X-Twilio-Email-Event-Webhook-Timestamp".to_owned(), ts.to_string()),
            ]
            .into_iter()
            .collect()
        };
        let opts = |keys: &[&SigningKey]| {
            let keys: Vec<String> = keys.iter().map(|k| spki(k)).collect();
            let json = json!({"verify": {"keys": keys, "now": now}});
            WebhookOptions::from_json(json.to_string().as_bytes()).unwrap()
        };
        let tampered = br#"[{"email":"ann@example.com","timestamp":1767225500,"event":"delivered","sg_event_id":"e1"}]"#;
        let cases: Vec<Case<'_>> = vec![
            ("valid", signed(&key, now, body), body, opts(&[&key]), 200, true),
            ("second key", signed(&key, now, body), body, opts(&[&other, &key]), 200, true),
            ("forged", signed(&other, now, body), body, opts(&[&key]), 401, true),
            ("tampered", signed(&key, now, body), tampered, opts(&[&key]), 401, true),
            ("stale", signed(&key, now - 301, body), body, opts(&[&key]), 401, false),
            ("unsigned", Headers::new(), body, opts(&[&key]), 401, false),
            ("no key", signed(&key, now, body), body, opts(&[]), 401, false),
        ];
        for (name, headers, body, opts, status, has_check) in cases {
            let core = handle_webhook("sendgrid", &headers, body, &opts);
            let check = webhook_host_check("sendgrid", &headers, body, &opts);
            assert_eq!(check.is_some(), has_check, "{name}");
            let host = match &check {
                Some(c) => {
                    handle_webhook_with_host("sendgrid", &headers, body, &opts, host_answer(c))
                }
                None => handle_webhook("sendgrid", &headers, body, &opts),
            };
            assert_eq!(core.status(), status, "{name}: {:?}", core.error());
            assert_eq!(host, core, "{name}");
            // A verdict can never pass what the rules refuse before the math.
            if !has_check {
                let forced = handle_webhook_with_host(
                    "sendgrid",
                    &headers,
                    body,
                    &opts,
                    HostVerdict::Accepted(0),
                );
                assert_eq!(forced, core, "{name}");
            }
        }
    }

    #[test]
    fn typed_options_answer_as_their_json_form() {
        let key = SigningKey::from_slice(&[7; 32]).unwrap();
        let now = 1_767_225_600_i64;
        let body = br#"[{"email":"ann@example.com","timestamp":1767225500,"event":"open","sg_event_id":"e1"}]"#;
        let mut msg = now.to_string().into_bytes();
        msg.extend_from_slice(body);
        let sig: Signature = key.sign(&msg);
        let headers: Headers = [
            ("X-Twilio-Email-Event-Webhook-Signature", base64(sig.to_der().as_bytes())),
            ("X-Twilio-Email-Event-Webhook-Timestamp", now.to_string()),
        ]
        .into_iter()
        .collect();
        let policy = RoutingPolicy::from_json(br#"{"default": "drop"}"#).unwrap();
        let json = json!({"verify": {"keys": [spki(&key)], "now": now, "tolerance_secs": 10},
            "policy": {"default": "drop"}, "seen": ["sendgrid:e0"]});
        let from_json = WebhookOptions::from_json(json.to_string().as_bytes()).unwrap();
        let keys = Keys::new().with_public_key(&spki(&key)).unwrap();
        let typed = WebhookOptions::verified(keys, Timestamp::from_millis(now * 1000).unwrap())
            .with_tolerance_secs(10)
            .with_policy(policy)
            .with_seen(["sendgrid:e0".to_owned()]);
        let a = handle_webhook("sendgrid", &headers, body, &from_json);
        assert_eq!(a.status(), 200);
        assert_eq!(a, handle_webhook("sendgrid", &headers, body, &typed));
        let unverified = handle_webhook("sendgrid", &headers, body, &WebhookOptions::unverified());
        assert!(!unverified.verified());
        assert_eq!(unverified.route(Route::Analytics).len(), 1);
    }

    /// The RSA math as a host runs it: the key decoded from the SubjectPublicKeyInfo given.
    fn rsa_host_answer(check: &HostCheck) -> HostVerdict {
        use rsa::pkcs8::DecodePublicKey;
        use rsa::{Pkcs1v15Sign, PublicKey as RsaKey};
        use sha2::Digest;
        let sha256 = match check.algorithm() {
            crate::verify::HostAlgorithm::RsaPkcs1v15Sha256 => true,
            crate::verify::HostAlgorithm::RsaPkcs1v15Sha1 => false,
            other => panic!("not rsa: {other:?}"),
        };
        check
            .keys()
            .iter()
            .find(|(_, spki)| {
                let k = RsaKey::from_public_key_der(spki).unwrap();
                if sha256 {
                    let h = sha2::Sha256::digest(check.message());
                    k.verify(Pkcs1v15Sign::new::<sha2::Sha256>(), &h, check.signature()).is_ok()
                } else {
                    let h = sha1::Sha1::digest(check.message());
                    k.verify(Pkcs1v15Sign::new::<sha1::Sha1>(), &h, check.signature()).is_ok()
                }
            })
            .map_or(HostVerdict::Rejected, |&(i, _)| HostVerdict::Accepted(i))
    }

    #[test]
    fn rsa_host_checks_give_the_answers_core_verification_gives() {
        // Signature vectors of the conformance corpus (verify op inputs), played as webhooks.
        for (name, vector) in [
            (
                "postal sha256",
                include_str!("../../tests/vectors/signature/postal/valid-sha256.json"),
            ),
            ("postal sha1", include_str!("../../tests/vectors/signature/postal/valid-sha1.json")),
            (
                "postal tampered",
                include_str!("../../tests/vectors/signature/postal/tampered-body.json"),
            ),
            ("sns v1", include_str!("../../tests/vectors/signature/ses/notification-v1.json")),
            ("sns v2", include_str!("../../tests/vectors/signature/ses/notification-v2.json")),
            (
                "sns tampered",
                include_str!("../../tests/vectors/signature/ses/tampered-message.json"),
            ),
        ] {
            let v: Value = serde_json::from_str(vector).unwrap();
            let mut input = v["input"].as_object().unwrap().clone();
            let provider = input.remove("provider").unwrap();
            let provider = provider.as_str().unwrap();
            let body = input.remove("body").unwrap();
            let headers: Headers = input
                .remove("headers")
                .unwrap_or_default()
                .as_object()
                .map(|h| {
                    h.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect()
                })
                .unwrap_or_default();
            let opts = json!({ "verify": input }).to_string();
            let opts = WebhookOptions::from_json(opts.as_bytes()).unwrap();
            let body = body.as_str().unwrap().as_bytes();
            let core = handle_webhook(provider, &headers, body, &opts);
            let check = webhook_host_check(provider, &headers, body, &opts).expect(name);
            let host =
                handle_webhook_with_host(provider, &headers, body, &opts, rsa_host_answer(&check));
            assert_eq!(host, core, "{name}");
            assert_eq!(core.verified(), v["expect"].get("output").is_some(), "{name}");
        }
    }

    #[test]
    fn the_verify_api_and_its_host_form_agree() {
        let key = SigningKey::from_slice(&[7; 32]).unwrap();
        let keys = Keys::new().with_public_key(&spki(&key)).unwrap();
        let ts = "1767225600";
        let sig: Signature = key.sign(format!("{ts}[]").as_bytes());
        let headers: Headers = [
            ("X-Twilio-Email-Event-Webhook-Signature", base64(sig.to_der().as_bytes()).as_str()),
            ("X-Twilio-Email-Event-Webhook-Timestamp", ts),
        ]
        .into_iter()
        .collect();
        let req = SignedRequest::new(b"[]", &headers);
        let now = Timestamp::from_millis(1_767_225_600_000).unwrap();
        let opts = VerifyOptions::new();
        let check =
            prepare_host_check(Provider::Sendgrid, &req, &keys, now, &opts).unwrap().unwrap();
        assert_eq!(check.message(), b"1767225600[]");
        assert_eq!(check.keys()[0].1.len(), 65, "an uncompressed sec1 point");
        let core: Verified = verify(Provider::Sendgrid, &req, &keys, now, &opts).unwrap();
        let host =
            verify_with_host(Provider::Sendgrid, &req, &keys, now, &opts, host_answer(&check));
        assert_eq!(host.unwrap(), core);
        let wrong =
            verify_with_host(Provider::Sendgrid, &req, &keys, now, &opts, HostVerdict::Accepted(3));
        assert_eq!(wrong.unwrap_err().code(), "invalid_value");
        // Schemes without a host form have no check, and a verdict does not replace theirs.
        let mg = prepare_host_check(Provider::Mailersend, &req, &keys, now, &opts).unwrap();
        assert!(mg.is_none());
        let forced = verify_with_host(
            Provider::Mailersend,
            &req,
            &keys,
            now,
            &opts,
            HostVerdict::Accepted(0),
        );
        assert_eq!(forced.unwrap_err().code(), "missing_header");
    }
}
