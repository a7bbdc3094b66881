use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use mailstate_core::{Headers, Payload, Provider, detect, normalize_borrowed};
use serde_json::json;

use crate::{Outcome, input, write_line};

/// Turn one provider payload into canonical events (NDJSON on stdout).
///
/// FILE is the body exactly as received (a webhook POST body, an activity-API page, an
/// export); headers matter for some providers (SES raw delivery, Resend's svix-id) and are
/// given with --header. Elements of a batch that cannot be read are reported on stderr with
/// their JSON path, and the other events still come out (exit status 1).
///
/// A provider control message that is not an event (an SNS subscription confirmation, a
/// SparkPost ping, Event Grid's subscription validation) prints no events; what to do about it is printed on stderr as
///   mailstate: control: {"kind": "subscription_confirmation", "url": "...", ...}
///
/// Providers: sendgrid, ses (SNS envelope, raw delivery, or a Firehose NDJSON export),
/// mailgun (webhook or Events API page), postmark, sparkpost (webhook batch or Events API
/// page), resend, mandrill, mailjet, brevo, mailersend, postal, arf (an RFC 5965 feedback
/// report email: complaints from mailbox providers' feedback loops; `ingest --provider arf
/// DIR` reads a folder of .eml files, one report each), mailtrap (JSON batch or JSON
/// Lines), smtp2go (JSON or form), zeptomail, loops, ahasend, azure_acs (Event Grid or
/// CloudEvents), elastic_email (the notification's query string, without `?`), scaleway
/// (Topics and Events), ses_eventbridge (an EventBridge envelope or an array of them),
/// unisender_go; and the canonical formats
/// ndjson and csv (validated and passed through). `auto` recognizes the provider from the
/// headers and the shape of the body, prints which on stderr, and refuses when it cannot tell.
///
/// Two fields say what the provider says beyond the event type: `automated` (privacy_proxy
/// or scanner) on an open or click the provider flagged as a machine's (SendGrid
/// sg_machine_open, Mailgun client-info.bot, Brevo proxy_open, AhaSend is_bot; never guessed from a user
/// agent or IP), and `bounce_category` on every hard_bounce, soft_bounce and deferred: why
/// it failed, from the provider's own classification, then the diagnostic's words, then its
/// RFC 3463 code (invalid_recipient, mailbox_full, mailbox_disabled, domain_error, blocked,
/// policy, content, expired, auto_reply, other).
///
/// Example:
///   mailstate normalize --provider ses --header 'x-amz-sns-message-type: Notification' body.json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Who sent the payload (see the list above).
    #[arg(long, short = 'p', value_name = "PROVIDER")]
    provider: String,
    /// A request header as received, `Name: value`; repeatable.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// The payload; `-` or nothing reads stdin.
    file: Option<PathBuf>,
}

pub(crate) fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let mut headers = Headers::new();
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            bail!("--header {h:?}: expected 'Name: value'");
        };
        headers.push(name.trim(), value.trim());
    }
    let path = args.file.clone().unwrap_or_else(|| PathBuf::from("-"));
    let body = input::read_all(&path)?;
    let provider: Provider = if args.provider == "auto" {
        let p = detect(&headers, &body).with_context(|| format!("{}", path.display()))?;
        eprintln!("mailstate: {}: recognized as {p}", path.display());
        p
    } else {
        args.provider.parse()?
    };
    // The events are written out and dropped: no need to copy the body's text into them.
    let normalized = normalize_borrowed(provider, Payload { body: &body, headers: &headers })
        .with_context(|| format!("cannot normalize {}", path.display()))?;
    for e in &normalized.events {
        write_line(out, e)?;
    }
    if let Some(c) = &normalized.control {
        eprintln!("mailstate: control: {}", json!(c));
    }
    for e in &normalized.errors {
        eprintln!("mailstate: {}: {e}", path.display());
    }
    Ok(if normalized.errors.is_empty() { Outcome::Clean } else { Outcome::SomeInputRejected })
}
