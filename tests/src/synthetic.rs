//! Synthetic canonical events for benchmarks, tests and demos, deterministic by seed.
//!
//! Each message goes through a realistic lifecycle: accepted, sometimes deferred, then
//! delivered, soft- or hard-bounced, or rejected; delivered messages may be opened and
//! clicked, and a few end in a complaint or an unsubscribe (some later lifted by a
//! resubscribe). Some engagement arrives after a bounce (security scanners), some clicks
//! carry a time before their delivery (clock skew), and about 15% of events are retried
//! (stored again with the same `event_key`, as at-least-once webhooks do). Within each chunk
//! of messages, rows are shuffled, so arrival order is not time order.
//!
//! Recipients repeat across messages (about three messages per recipient), so suppression
//! and per-recipient queries have something to find. Addresses are `@example.com`-style
//! and every id is synthetic. `raw` is empty: no provider payload exists for these events.

use mailstate_core::{BounceClass, Event, EventType, Metadata, Timestamp};

/// A small, fast, seedable PRNG (SplitMix64): deterministic output on every platform.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        // Multiply-shift: unbiased enough for synthetic data, and fast.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// How many messages.
    pub messages: u64,
    /// The PRNG seed: the same seed gives the same files.
    pub seed: u64,
    /// First send time, ms since the epoch (default 2025-11-01T00:00:00Z).
    pub start_ms: i64,
    /// Sends spread over this many days.
    pub days: u32,
}

impl GenerateOptions {
    /// `messages` messages from `seed`, over 30 days from 2025-11-01.
    pub fn new(messages: u64, seed: u64) -> GenerateOptions {
        GenerateOptions { messages, seed, start_ms: 1_761_955_200_000, days: 30 }
    }
}

const PROVIDERS: [&str; 5] = ["sendgrid", "ses", "mailgun", "postmark", "sparkpost"];
const DOMAINS: [&str; 6] = [
    "example.com",
    "example.net",
    "example.org",
    "mail.example.com",
    "corp.example",
    "inbox.example",
];
const STREAMS: [&str; 2] = ["marketing", "transactional"];
const CAMPAIGNS: [&str; 4] = ["welcome", "weekly", "receipt", "winback"];
const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// The events of message number `n` (retries included), in time order.
pub fn message_events(rng: &mut Rng, opts: &GenerateOptions, n: u64) -> Vec<Event> {
    let provider = PROVIDERS[(n % 5) as usize];
    let message_id = format!("msg-{:010x}", n.wrapping_mul(0x9E37_79B9) ^ opts.seed);
    let recipients = (opts.messages / 3).max(1);
    let r = rng.below(recipients);
    let recipient = format!("user{r}@{}", DOMAINS[(r % 6) as usize]);
    let stream = STREAMS[usize::from(rng.chance(400))];
    let campaign = CAMPAIGNS[usize::try_from(rng.below(4)).unwrap_or(0)];
    let sent =
        opts.start_ms + i64::try_from(rng.below(u64::from(opts.days) * 86_400_000)).unwrap_or(0);
    let mut seq = 0u32;
    let mut out: Vec<Event> = Vec::new();
    let mut push = |rng: &mut Rng, kind: EventType, at: i64, out: &mut Vec<Event>| -> usize {
        seq += 1;
        let id = format!("{:08x}{seq:02x}", n ^ (opts.seed << 20));
        let mut e = Event::new(provider, kind);
        e.provider_event_id = Some(id.clone());
        e.event_key = format!("{provider}:{id}");
        e.message_id = Some(message_id.clone());
        e.recipient = Some(recipient.clone());
        e.occurred_at = Timestamp::from_millis(at);
        e.stream = Some(stream.to_owned());
        e.tags = std::iter::once(campaign.to_owned()).collect();
        e.metadata = Metadata::from([("campaign".to_owned(), campaign.to_owned())]);
        if matches!(kind, EventType::Open | EventType::Click) {
            e.user_agent =
                Some(if rng.chance(300) { "Mobile/15E148" } else { "Mozilla/5.0" }.into());
        }
        if kind == EventType::Click {
            e.url = Some(format!("https://shop.example.com/{campaign}"));
        }
        out.push(e);
        out.len() - 1
    };
    let accepted = sent;
    push(rng, EventType::Accepted, accepted, &mut out);
    let mut t = accepted + i64::try_from(rng.below(5_000)).unwrap_or(0);
    if rng.chance(200) {
        for _ in 0..=rng.below(3) {
            t += i64::try_from(rng.below(30)).unwrap_or(0) * MINUTE + MINUTE;
            push(rng, EventType::Deferred, t, &mut out);
        }
    }
    let fate = rng.below(1000);
    if fate < 20 {
        push(rng, EventType::Rejected, t, &mut out);
    } else if fate < 50 {
        let i = push(rng, EventType::HardBounce, t + SECOND, &mut out);
        out[i].bounce_class = Some(BounceClass::Hard);
        out[i].smtp_status = Some("550".into());
        out[i].enhanced_status = Some("5.1.1".into());
        out[i].diagnostic = Some("550 5.1.1 user unknown".into());
        if rng.chance(100) {
            // A link scanner opens the bounced message: late, and never changes the status.
            push(rng, EventType::Open, t + HOUR, &mut out);
        }
    } else if fate < 90 {
        let i = push(rng, EventType::SoftBounce, t + HOUR, &mut out);
        out[i].bounce_class =
            Some(if rng.chance(300) { BounceClass::Block } else { BounceClass::Soft });
        out[i].smtp_status = Some("452".into());
        out[i].diagnostic = Some("452 4.2.2 mailbox full".into());
    } else if fate < 110 {
        // Still in flight: nothing after acceptance (and deferrals) yet.
    } else {
        let delivered = t + i64::try_from(rng.below(20_000)).unwrap_or(0) + SECOND;
        push(rng, EventType::Delivered, delivered, &mut out);
        if rng.chance(550) {
            let mut at = delivered + i64::try_from(rng.below(2 * DAY as u64)).unwrap_or(0);
            for _ in 0..=rng.below(4) {
                push(rng, EventType::Open, at, &mut out);
                at += i64::try_from(rng.below(6 * HOUR as u64)).unwrap_or(0);
            }
            if rng.chance(400) {
                for _ in 0..=rng.below(3) {
                    // 3% of clicks carry a time before delivery (the provider's clocks differ).
                    let click = if rng.chance(30) { delivered - 2 * SECOND } else { at + MINUTE };
                    push(rng, EventType::Click, click, &mut out);
                    at += i64::try_from(rng.below(HOUR as u64)).unwrap_or(0);
                }
            }
            if rng.chance(15) {
                push(rng, EventType::Complaint, at + HOUR, &mut out);
            } else if rng.chance(25) {
                push(rng, EventType::Unsubscribe, at + 2 * HOUR, &mut out);
                if rng.chance(100) {
                    push(rng, EventType::Resubscribe, at + 3 * DAY, &mut out);
                }
                if rng.chance(200) {
                    push(rng, EventType::Open, at + 4 * DAY, &mut out);
                }
            }
        }
    }
    // At-least-once delivery: about 15% of events are stored again, some several times.
    let originals = out.len();
    for i in 0..originals {
        if rng.chance(150) {
            for _ in 0..=rng.below(2) {
                let copy = out[i].clone();
                out.push(copy);
            }
        }
    }
    out
}

/// The UTC day of an event (`YYYY-MM-DD`), or `unknown` when it carries no time.
pub fn day_of(e: &Event) -> String {
    e.occurred_at.map_or_else(|| "unknown".to_owned(), |t| t.to_string()[..10].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_events_other_seed_other_events() {
        let opts = GenerateOptions::new(100, 7);
        let a: Vec<Event> = {
            let mut r = Rng::new(7);
            (0..100).flat_map(|n| message_events(&mut r, &opts, n)).collect()
        };
        let b: Vec<Event> = {
            let mut r = Rng::new(7);
            (0..100).flat_map(|n| message_events(&mut r, &opts, n)).collect()
        };
        let c: Vec<Event> = {
            let mut r = Rng::new(8);
            (0..100).flat_map(|n| message_events(&mut r, &opts, n)).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        for e in &a {
            e.validate().unwrap();
        }
    }
}
