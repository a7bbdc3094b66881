use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use mailstate_core::{
    ErrorKind, Headers, Provider, Timestamp,
    verify::{Keys, SignedRequest, VerifyOptions, verify},
};
use serde_json::json;

use crate::{Outcome, UsageError, input, write_line};

/// Check that a webhook request really comes from its provider (signature, or credentials for
/// providers that do not sign).
///
/// FILE is the raw request body exactly as received; give the request's headers with
/// --header. Key material comes from files or the environment, never from the command line
/// (it would show in `ps` and shell history):
///   --secret-file / --secret-env  a shared secret: the HMAC key (mailgun, mandrill,
///                                 mailersend, mailtrap), the whsec_ secret (resend, loops:
///                                 Standard Webhooks v1), the aha-whsec-... secret (ahasend),
///                                 or the expected credential, `user:password` or a token
///                                 (postmark, sparkpost, mailjet, brevo, smtp2go, zeptomail,
///                                 ses_eventbridge, azure_acs, elastic_email: also found in
///                                 the --url's query, and for elastic_email in the body's),
///                                 the API key (unisender_go). A file's final newline is
///                                 ignored.
///   --key-file                    a public key or certificate as the provider shows it,
///                                 base64 DER or PEM (sendgrid, postal; the signing
///                                 certificate for ses and scaleway), or a whpk_ Ed25519 key
///                                 (loops: Standard Webhooks v1a).
///   --trust-anchor-file           the CA certificates a signing certificate must be issued
///                                 by (scaleway: sns-trust-chain.pem).
/// Repeat them to accept any of several (secret rotation, several webhook configurations).
///
/// On success prints {"valid": true, "scheme", "key_index", "timestamp", "token"} and exits 0.
/// A rejected request exits 1 with the reason on stderr, as
///   mailstate: FILE: rejected: <code>: <message>
/// Usage and configuration errors (unreadable key, unset variable) exit 2.
///
/// Example:
///   mailstate verify --provider resend --secret-env RESEND_WEBHOOK_SECRET \
///     -H 'svix-id: msg_1' -H 'svix-timestamp: 1767225540' -H 'svix-signature: v1,...' body.json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
#[command(group(clap::ArgGroup::new("key").required(true).multiple(true)
    .args(["secret_files", "secret_envs", "key_files"])))]
pub(crate) struct Args {
    /// Who sent the request: sendgrid, ses, mailgun, resend, mandrill, mailersend, postal,
    /// postmark, sparkpost, mailjet, brevo, mailtrap, smtp2go, zeptomail, loops, ahasend,
    /// azure_acs, elastic_email, scaleway, ses_eventbridge, unisender_go.
    #[arg(long, short = 'p', value_name = "PROVIDER")]
    provider: String,
    /// Read a shared secret from this file; repeatable.
    #[arg(long = "secret-file", value_name = "FILE")]
    secret_files: Vec<PathBuf>,
    /// Read a shared secret from this environment variable; repeatable.
    #[arg(long = "secret-env", value_name = "NAME")]
    secret_envs: Vec<String>,
    /// Read a public key or certificate from this file; repeatable.
    #[arg(long = "key-file", value_name = "FILE")]
    key_files: Vec<PathBuf>,
    /// Read CA certificates (PEM; a chain file may hold several) that signing certificates
    /// must be issued by (scaleway: its sns-trust-chain.pem); repeatable.
    #[arg(long = "trust-anchor-file", value_name = "FILE")]
    trust_anchor_files: Vec<PathBuf>,
    /// A request header as received, `Name: value`; repeatable.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// The webhook URL exactly as configured at the provider (required for mandrill); a
    /// secret among its query parameters is a credential for the providers that do not sign.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Check times against this Unix time instead of the clock.
    #[arg(long, value_name = "UNIX")]
    now: Option<i64>,
    /// Accept signed times this many seconds before or after now.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    tolerance: u32,
    /// For providers without signatures, also accept the secret in this header.
    #[arg(long, value_name = "NAME")]
    token_header: Option<String>,
    /// Verify as Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature; v1 with
    /// whsec_ secrets, v1a with whpk_ keys) instead of the provider's own scheme, for a sender
    /// that adopted it (loops and ahasend use it without this flag).
    #[arg(long)]
    standard_webhooks: bool,
    /// A file of one-time tokens already accepted, one per line (mailgun replay check).
    #[arg(long, value_name = "FILE")]
    seen_tokens: Option<PathBuf>,
    /// The raw body; `-` or nothing reads stdin.
    file: Option<PathBuf>,
}

pub(crate) fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let usage = |msg: String| anyhow::Error::new(UsageError(msg));
    let provider: Provider = args.provider.parse().map_err(|e| usage(format!("{e}")))?;
    if provider == Provider::Mandrill && args.url.is_none() {
        return Err(usage("--url is required for mandrill: it signs the configured URL".into()));
    }
    let mut headers = Headers::new();
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            return Err(usage(format!("--header {h:?}: expected 'Name: value'")));
        };
        headers.push(name.trim(), value.trim());
    }
    let keys = keys(args)?;
    let secs = match args.now {
        Some(secs) => secs,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("the system clock is before 1970")?
            .as_secs()
            .try_into()?,
    };
    let now = secs
        .checked_mul(1000)
        .and_then(Timestamp::from_millis)
        .ok_or_else(|| usage(format!("--now {secs}: not a unix time within years 1-9999")))?;
    let seen: std::collections::BTreeSet<String> = match &args.seen_tokens {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
            text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
        }
        None => std::collections::BTreeSet::new(),
    };
    let mut options =
        VerifyOptions::new().with_tolerance_secs(args.tolerance).with_seen_tokens(&seen);
    if let Some(h) = &args.token_header {
        options = options.with_token_header(h);
    }
    if args.standard_webhooks {
        options = options.with_standard_webhooks();
    }
    let path = args.file.clone().unwrap_or_else(|| PathBuf::from("-"));
    let body = input::read_all(&path).map_err(|e| usage(format!("{e:#}")))?;
    let mut request = SignedRequest::new(&body, &headers);
    if let Some(url) = &args.url {
        request = request.with_url(url);
    }
    match verify(provider, &request, &keys, now, &options) {
        Ok(v) => {
            let row = json!({
                "valid": true,
                "scheme": v.scheme().as_str(),
                "key_index": v.key_index(),
                "timestamp": v.timestamp(),
                "token": v.token(),
            });
            write_line(out, &row)?;
            Ok(Outcome::Clean)
        }
        Err(e) if e.kind() == ErrorKind::Unsupported => Err(usage(e.to_string())),
        Err(e) => {
            eprintln!("mailstate: {}: rejected: {}: {e}", path.display(), e.code());
            Ok(Outcome::SomeInputRejected)
        }
    }
}

/// Every secret and key the arguments name, in the order given.
fn keys(args: &Args) -> anyhow::Result<Keys> {
    let usage = |msg: String| anyhow::Error::new(UsageError(msg));
    let mut keys = Keys::new();
    for path in &args.secret_files {
        let mut secret = read(path).map_err(usage)?;
        // `echo secret > file` leaves a newline that is not part of the secret.
        while secret.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            secret.pop();
        }
        if secret.is_empty() {
            return Err(usage(format!("--secret-file {}: the file is empty", path.display())));
        }
        keys = keys.with_secret(secret);
    }
    for name in &args.secret_envs {
        let value = std::env::var(name).map_err(|e| usage(format!("--secret-env {name}: {e}")))?;
        if value.is_empty() {
            return Err(usage(format!("--secret-env {name}: the variable is empty")));
        }
        keys = keys.with_secret(value);
    }
    for path in &args.key_files {
        let bytes = read(path).map_err(usage)?;
        let text = String::from_utf8(bytes).map_err(|_| {
            usage(format!("{}: a key file is text (PEM or base64)", path.display()))
        })?;
        keys =
            keys.with_public_key(&text).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    }
    for path in &args.trust_anchor_files {
        let bytes = read(path).map_err(usage)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| usage(format!("{}: a trust anchor file is PEM text", path.display())))?;
        keys =
            keys.with_trust_anchor(&text).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    }
    Ok(keys)
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}
