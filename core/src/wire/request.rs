//! The request envelope: one declaration for every op that takes a provider's request
//! (`normalize`, `verify`, `webhook`) and for the webhook's options.
//!
//! Each op reads the envelope in a [`Form`]: the fields it accepts, in the order its error
//! messages list them, which of them are required, and which are accepted but ignored (the
//! webhook's `verify` options may repeat the request's own fields, which the request
//! replaces). A field a form does not accept is an error naming the fields it does, exactly as
//! serde's derived readers report it, so every op answers as it always has.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::Timestamp;
use crate::error::Error;
use crate::json::from_slice_with_path_seed;
use crate::route::RoutingPolicy;
use crate::verify::Keys;
use crate::webhook::{VerifySettings, WebhookOptions};

/// Which fields an op reads, in the order its messages list them.
#[derive(Debug)]
pub(crate) struct Form {
    /// The name error messages give the expected object (`struct NormalizeInput`).
    name: &'static str,
    /// `struct <name> with <n> elements`, for an input given as an array.
    with_elements: &'static str,
    fields: &'static [&'static str],
    required: &'static [&'static str],
    ignored: &'static [&'static str],
}

/// The fields of the `verify` op after the request's own.
macro_rules! verify_fields {
    () => {
        [
            "provider",
            "headers",
            "body",
            "body_base64",
            "url",
            "form",
            "secrets",
            "keys",
            "now",
            "tolerance_secs",
            "seen_tokens",
            "token_header",
            "scheme",
            "trust_anchors",
        ]
    };
}

/// The `normalize` op.
pub(crate) const NORMALIZE: Form = Form {
    name: "struct NormalizeInput",
    with_elements: "struct NormalizeInput with 4 elements",
    fields: &["provider", "headers", "body", "body_base64"],
    required: &["provider"],
    ignored: &[],
};

/// The `verify` op.
pub(crate) const VERIFY: Form = Form {
    name: "struct VerifyInput",
    with_elements: "struct VerifyInput with 14 elements",
    fields: &verify_fields!(),
    required: &["provider", "now"],
    ignored: &[],
};

/// The `webhook` op.
pub(crate) const WEBHOOK: Form = Form {
    name: "struct WebhookInput",
    with_elements: "struct WebhookInput with 7 elements",
    fields: &["provider", "headers", "body", "body_base64", "verify", "policy", "seen"],
    required: &["provider", "verify"],
    ignored: &[],
};

/// The webhook's options alone ([`WebhookOptions::from_json`]).
const WEBHOOK_OPTIONS: Form = Form {
    name: "struct OptionsInput",
    with_elements: "struct OptionsInput with 3 elements",
    fields: &["verify", "policy", "seen"],
    required: &["verify"],
    ignored: &[],
};

/// The webhook's `verify` options: the `verify` op's fields; the request's own are accepted
/// and replaced by the request's.
const VERIFY_OPTIONS: Form = Form {
    name: "struct VerifyFields",
    with_elements: "struct VerifyFields with 14 elements",
    fields: &verify_fields!(),
    required: &["now"],
    ignored: &["provider", "headers", "body", "body_base64"],
};

/// The request envelope, as read in some [`Form`]; a field the form does not read keeps its
/// default, and a required one is always present.
#[derive(Debug, Default)]
pub(crate) struct Request {
    pub(crate) provider: String,
    pub(crate) headers: BTreeMap<String, String>,
    body: Option<String>,
    body_base64: Option<String>,
    url: Option<String>,
    form: Option<BTreeMap<String, String>>,
    secrets: Vec<String>,
    keys: Vec<String>,
    now: i64,
    tolerance_secs: Option<u32>,
    seen_tokens: Vec<String>,
    token_header: Option<String>,
    scheme: Option<SchemeName>,
    trust_anchors: Vec<String>,
    verify: Option<Box<RawValue>>,
    policy: Option<Box<RawValue>>,
    seen: Vec<String>,
}

impl Request {
    /// Read `input` in `form`, with the JSON path of any failure.
    pub(crate) fn read(form: &'static Form, input: &[u8]) -> Result<Request, Error> {
        from_slice_with_path_seed(form, input)
    }

    /// The body from `body` (text) or `body_base64` (bytes), exactly one of them.
    pub(crate) fn take_body(&mut self) -> Result<Vec<u8>, Error> {
        match (self.body.take(), &self.body_base64) {
            (Some(b), None) => Ok(b.into_bytes()),
            (None, Some(b64)) => crate::encoding::decode_base64(b64)
                .ok_or_else(|| Error::invalid("body_base64", "not valid base64")),
            (None, None) => Err(Error::missing("body")),
            (Some(_), Some(_)) => Err(Error::invalid("body", "give body or body_base64, not both")),
        }
    }

    /// The routing policy (the default when none is given).
    pub(crate) fn policy(&self) -> Result<RoutingPolicy, Error> {
        match &self.policy {
            Some(p) => RoutingPolicy::from_json(p.get().as_bytes()),
            None => Ok(RoutingPolicy::default()),
        }
    }

    /// The verification settings: keys parsed once, and the errors of reading them kept for
    /// the verify step.
    pub(crate) fn verify_settings(&mut self) -> VerifySettings {
        let keys = read_keys(&self.secrets, &self.keys, &self.trust_anchors);
        let now = self
            .now
            .checked_mul(1000)
            .and_then(Timestamp::from_millis)
            .ok_or_else(|| Error::invalid("now", "expected unix seconds within years 1-9999"));
        VerifySettings {
            keys,
            now,
            url: self.url.take(),
            form: self.form.take().map(|m| m.into_iter().collect()),
            tolerance_secs: self.tolerance_secs,
            seen_tokens: std::mem::take(&mut self.seen_tokens).into_iter().collect(),
            token_header: self.token_header.take(),
            standard_webhooks: self.scheme == Some(SchemeName::StandardWebhooks),
        }
    }

    /// The webhook's options from the envelope's `verify` and `seen`, routing with `policy`.
    pub(crate) fn webhook_options(
        &mut self,
        policy: RoutingPolicy,
    ) -> Result<WebhookOptions, Error> {
        let seen = std::mem::take(&mut self.seen);
        let text = self.verify.as_deref().map_or("", RawValue::get);
        let verify = match text.as_bytes().first() {
            Some(b'n') => None,
            Some(b'{') => Some(
                Request::read(&VERIFY_OPTIONS, text.as_bytes()).map(|mut r| r.verify_settings()),
            ),
            _ => {
                let found = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
                return Err(Error::type_mismatch(
                    "verify",
                    "an object or null",
                    crate::providers::type_name(&found),
                ));
            }
        };
        Ok(WebhookOptions::from_parts(verify, policy, seen))
    }
}

/// The `scheme` field of the verify options: a scheme chosen instead of the provider's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SchemeName {
    /// Standard Webhooks ([`crate::verify::VerifyOptions::with_standard_webhooks`]).
    StandardWebhooks,
}

fn read_keys(secrets: &[String], public: &[String], anchors: &[String]) -> Result<Keys, Error> {
    let mut keys = Keys::new();
    for s in secrets {
        keys = keys.with_secret(s);
    }
    for (n, k) in public.iter().enumerate() {
        keys = keys.with_public_key(k).map_err(|e| e.with_path(format!("keys[{n}]")))?;
    }
    for (n, a) in anchors.iter().enumerate() {
        keys = keys.with_trust_anchor(a).map_err(|e| e.with_path(format!("trust_anchors[{n}]")))?;
    }
    Ok(keys)
}

impl WebhookOptions {
    /// Read `{"verify": {…} | null, "policy"?: RoutingPolicy, "seen"?: [event_key]}`: the
    /// `webhook` op's input without the request. `verify` holds the `verify` op's options
    /// (`keys`, `secrets`, `now`, `tolerance_secs`, …).
    ///
    /// # Errors
    /// A wire error for malformed options (see the type's docs).
    ///
    /// # Example
    /// ```
    /// use mailstate_core::webhook::WebhookOptions;
    /// let opts = WebhookOptions::from_json(br#"{"verify": null, "seen": ["sendgrid:a"]}"#).unwrap();
    /// assert!(!opts.verifies());
    /// let err = WebhookOptions::from_json(br#"{"verify": true}"#).unwrap_err();
    /// assert_eq!(err.code(), "type_mismatch");
    /// ```
    pub fn from_json(options: &[u8]) -> Result<WebhookOptions, Error> {
        let mut r = Request::read(&WEBHOOK_OPTIONS, options)?;
        let policy = r.policy()?;
        r.webhook_options(policy)
    }
}

impl<'de> DeserializeSeed<'de> for &'static Form {
    type Value = Request;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Request, D::Error> {
        d.deserialize_struct("Request", self.fields, RequestVisitor(self))
    }
}

struct RequestVisitor(&'static Form);

impl<'de> Visitor<'de> for RequestVisitor {
    type Value = Request;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Request, A::Error> {
        let form = self.0;
        let mut request = Request::default();
        let mut present = BTreeSet::new();
        while let Some(field) = map.next_key_seed(Key(form))? {
            if !present.insert(field) {
                return Err(de::Error::duplicate_field(field));
            }
            map.next_value_seed(Slot { request: &mut request, field, form })?;
        }
        for &field in form.required {
            if !present.contains(field) {
                return Err(de::Error::missing_field(field));
            }
        }
        Ok(request)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Request, A::Error> {
        let form = self.0;
        let mut request = Request::default();
        for (i, &field) in form.fields.iter().enumerate() {
            let slot = Slot { request: &mut request, field, form };
            if seq.next_element_seed(slot)?.is_none() && form.required.contains(&field) {
                return Err(de::Error::invalid_length(i, &form.with_elements));
            }
        }
        Ok(request)
    }
}

/// A key of the envelope: one of the form's fields.
struct Key(&'static Form);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = &'static str;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<&'static str, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for Key {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<&'static str, E> {
        self.0
            .fields
            .iter()
            .find(|f| **f == v)
            .copied()
            .ok_or_else(|| de::Error::unknown_field(v, self.0.fields))
    }
}

/// The value of one field, read into the request.
struct Slot<'r> {
    request: &'r mut Request,
    field: &'static str,
    form: &'static Form,
}

impl<'de> DeserializeSeed<'de> for Slot<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let r = self.request;
        if self.form.ignored.contains(&self.field) {
            IgnoredAny::deserialize(d)?;
            return Ok(());
        }
        match self.field {
            "provider" => r.provider = String::deserialize(d)?,
            "headers" => r.headers = Deserialize::deserialize(d)?,
            "body" => r.body = Deserialize::deserialize(d)?,
            "body_base64" => r.body_base64 = Deserialize::deserialize(d)?,
            "url" => r.url = Deserialize::deserialize(d)?,
            "form" => r.form = Deserialize::deserialize(d)?,
            "secrets" => r.secrets = Deserialize::deserialize(d)?,
            "keys" => r.keys = Deserialize::deserialize(d)?,
            "now" => r.now = i64::deserialize(d)?,
            "tolerance_secs" => r.tolerance_secs = Deserialize::deserialize(d)?,
            "seen_tokens" => r.seen_tokens = Deserialize::deserialize(d)?,
            "token_header" => r.token_header = Deserialize::deserialize(d)?,
            "scheme" => r.scheme = Deserialize::deserialize(d)?,
            "trust_anchors" => r.trust_anchors = Deserialize::deserialize(d)?,
            "verify" => r.verify = Some(Box::<RawValue>::deserialize(d)?),
            "policy" => r.policy = Deserialize::deserialize(d)?,
            "seen" => r.seen = Deserialize::deserialize(d)?,
            other => return Err(de::Error::unknown_field(other, self.form.fields)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request envelopes of every normalize, verify and webhook vector.
    #[expect(clippy::disallowed_methods, reason = "a test reads the vectors; core does no I/O")]
    fn vector_requests() -> Vec<(&'static Form, serde_json::Value)> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "json") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors"),
            &mut files,
        );
        files.sort();
        let mut requests = Vec::new();
        for f in files {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
            let form = match v["op"].as_str() {
                Some("normalize") => &NORMALIZE,
                Some("verify") => &VERIFY,
                Some("webhook") => &WEBHOOK,
                _ => continue,
            };
            requests.push((form, v["input"].clone()));
        }
        assert!(requests.len() > 100, "found {} request vectors", requests.len());
        requests
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3_000))]

        /// Every vector's request, broken at any node: the error (and its path) read from
        /// serde_json's position is the one serde_path_to_error's tracking gave.
        #[test]
        fn broken_requests_fail_with_the_tracked_path(
            which in 0usize..10_000,
            pick in 0usize..10_000,
            how in 0u8..6,
            layout in 0usize..40,
        ) {
            static REQUESTS: std::sync::OnceLock<Vec<(&'static Form, serde_json::Value)>> =
                std::sync::OnceLock::new();
            let requests = REQUESTS.get_or_init(vector_requests);
            let (form, input) = &requests[which % requests.len()];
            let mut v = input.clone();
            crate::json::tests::break_document(&mut v, pick, how);
            let text = crate::json::tests::layout_document(&v, layout);
            let ours = Request::read(form, &text).map(|_| ());
            let oracle = crate::json::tests::tracked_path(*form, &text).map(|_| ());
            proptest::prop_assert_eq!(ours, oracle, "{}", String::from_utf8_lossy(&text));
        }
    }

    #[test]
    fn every_form_reads_only_fields_the_request_has() {
        for form in [&NORMALIZE, &VERIFY, &WEBHOOK, &WEBHOOK_OPTIONS, &VERIFY_OPTIONS] {
            for field in form.fields {
                let mut r = Request::default();
                let slot = Slot { request: &mut r, field, form: &NORMALIZE };
                // Every field has a reader: a value fails in it, if at all, never as unknown.
                if let Err(err) = slot.deserialize(serde_json::Value::Bool(true)) {
                    assert!(!err.to_string().starts_with("unknown field"), "{field}: {err}");
                }
            }
            for field in form.required.iter().chain(form.ignored) {
                assert!(form.fields.contains(field), "{}: {field}", form.name);
            }
            let n = form.fields.len().to_string();
            assert!(form.with_elements.ends_with(&format!(" with {n} elements")), "{}", form.name);
        }
    }

    #[test]
    fn a_field_outside_the_form_is_unknown_and_lists_the_form() {
        let e = Request::read(&NORMALIZE, br#"{"provider":"ses","body":"","now":1}"#).unwrap_err();
        assert_eq!(
            e.message(),
            "invalid value at now: unknown field `now`, expected one of `provider`, `headers`, `body`, `body_base64`"
        );
    }
}
