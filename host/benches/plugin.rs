//! Plugin against native, in one run: normalizing payloads, and reducing 1,000,000 events in
//! the batch form a SQL engine uses (8,192-row folds, then merges into the running states).
//!
//! Run: `scripts/build-wasm.sh && cargo bench -p mailstate-host --bench plugin`.
//! Figures and ratios are recorded in BENCHMARKS.md ("The wasmtime plugin against native rules").

#![expect(clippy::unwrap_used, reason = "a benchmark should fail loudly on broken input")]

use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mailstate_core::{
    BounceClass, EventType, NativeRules, Rules, Timestamp,
    batch::{EventBatch, StateBatch},
};
use mailstate_host::Plugin;
use serde_json::{Value, json};

const BATCH_ROWS: usize = 8_192;
const EVENTS: usize = 1_000_000;
const MESSAGES: usize = 250_000;

fn plugin() -> Plugin {
    let path = std::env::var_os("MAILSTATE_PLUGIN").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../wasm/dist/mailstate_plugin.wasm"),
        PathBuf::from,
    );
    Plugin::from_file(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (build it with scripts/build-wasm.sh)", path.display()))
}

/// A tiny deterministic generator, so every run reduces the same events.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// The normalize inputs: a synthetic 100-event NDJSON payload, and for every provider with
/// vectors in tests/vectors/normalize, its largest vector input.
fn normalize_inputs() -> Vec<(String, Vec<u8>)> {
    let mut rng = Lcg(7);
    let body: String = (0..100)
        .map(|i| {
            let kind = ["delivered", "open", "click", "hard_bounce", "deferred"][i % 5];
            let mut e = json!({
                "event_key": format!("sendgrid:ev{i}-{}", rng.next()),
                "provider": "sendgrid",
                "provider_event_id": format!("ev{i}"),
                "type": kind,
                "provider_type": kind,
                "message_id": format!("msg{}", i / 4),
                "recipient": format!("user{}@example.com", i / 4),
                "occurred_at": format!("2025-11-03T20:{:02}:{:02}.000Z", i % 60, (i * 7) % 60),
                "tags": ["newsletter"],
                "metadata": {"campaign": "c1"},
                "raw": "{}",
            });
            if kind == "hard_bounce" {
                e["bounce_class"] = json!("hard");
                e["diagnostic"] = json!("550 5.1.1 user unknown");
            }
            e.to_string() + "\n"
        })
        .collect();
    let mut inputs = vec![
        (
            "ndjson-100".to_owned(),
            serde_json::to_vec(&json!({ "provider": "ndjson", "body": body })).unwrap(),
        ),
        (
            "sendgrid-batch-1000".to_owned(),
            serde_json::to_vec(&json!({ "provider": "sendgrid", "body": sendgrid_batch(1_000) }))
                .unwrap(),
        ),
    ];
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/normalize");
    let mut providers: Vec<_> =
        std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    providers.sort();
    for p in providers.iter().filter(|p| p.is_dir()) {
        let largest = std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|f| std::fs::read(f.path()).ok())
            .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(|v| v["op"] == "normalize" && v["expect"].get("output").is_some())
            .map(|v| serde_json::to_vec(&v["input"]).unwrap())
            .max_by_key(Vec::len);
        if let Some(input) = largest {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            inputs.push((name, input));
        }
    }
    inputs
}

/// A SendGrid Event Webhook batch of `n` events cycling through the event types, as the
/// normalize bench of core builds it (categories, custom args, SMTP texts).
fn sendgrid_batch(n: usize) -> String {
    let kinds = ["processed", "delivered", "open", "click", "deferred", "bounce", "dropped"];
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let kind = kinds[i % kinds.len()];
            let mut e = json!({
                "email": format!("user{i}@example.com"),
                "timestamp": 1_767_225_600 + i,
                "event": kind,
                "smtp-id": format!("<Tq9fR2mWx0aZyB4cD5e{i:04}@geopod-ismtpd-2>"),
                "sg_event_id": format!("ZXZlbnQtaWQtMDAwMDAwMDA{i:06}"),
                "sg_message_id": format!("Tq9fR2mWx0aZyB4cD5e{i:04}.recvd-6b7c8d9e0-abcd1-1-695A3C00-3.0"),
                "category": ["invoice", "eu"],
                "tenant": "acme",
                "order_id": i.to_string(),
            });
            let extra = match kind {
                "delivered" => json!({"response": "250 2.0.0 OK", "tls": 1, "ip": "149.72.1.2"}),
                "open" => json!({"useragent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "ip": "17.58.0.1"}),
                "click" => json!({"url": "https://example.com/pay?ref=mail", "useragent": "Mozilla/5.0", "ip": "17.58.0.1"}),
                "deferred" => json!({"attempt": "3", "response": "421 4.7.0 Try again later"}),
                "bounce" => json!({"type": "bounce", "status": "5.1.1", "reason": "550 5.1.1 user unknown"}),
                "dropped" => json!({"reason": "Bounced Address", "status": "5.0.0"}),
                _ => json!({}),
            };
            for (k, v) in extra.as_object().unwrap() {
                e[k] = v.clone();
            }
            e
        })
        .collect();
    Value::from(events).to_string()
}

/// 1,000,000 events over 250,000 messages in random order, cut into 8,192-row batches. Each
/// batch numbers its messages locally (as a SQL engine's group indices would be mapped);
/// `globals[b][g]` is the message of local group `g` of batch `b`.
fn reduce_inputs() -> (Vec<EventBatch>, Vec<Vec<u32>>) {
    let mut rng = Lcg(42);
    let mut batches = Vec::new();
    let mut globals = Vec::new();
    let mut row = 0;
    while row < EVENTS {
        let rows = BATCH_ROWS.min(EVENTS - row);
        let mut local: HashMap<u32, u32> = HashMap::new();
        let mut order = Vec::new();
        let mut facts = Vec::with_capacity(rows);
        for _ in 0..rows {
            let msg = u32::try_from(rng.next() % MESSAGES as u64).unwrap();
            let g = *local.entry(msg).or_insert_with(|| {
                order.push(msg);
                u32::try_from(order.len() - 1).unwrap()
            });
            facts.push((g, msg, rng.next()));
        }
        let mut b = EventBatch::new(u32::try_from(order.len()).unwrap());
        for (g, msg, r) in facts {
            let kind = EventType::ALL[usize::try_from(r % 11).unwrap()];
            let (class, diag) = match kind {
                EventType::HardBounce => (Some(BounceClass::Hard), Some("550 5.1.1 user unknown")),
                EventType::SoftBounce => (Some(BounceClass::Soft), Some("452 mailbox full")),
                _ => (None, None),
            };
            let key = format!("sendgrid:ev{}", r % 3_000_000);
            let at =
                Timestamp::from_millis(1_762_000_000_000 + i64::try_from(r % 86_400_000).unwrap());
            let message_id = format!("msg{msg}");
            let recipient = format!("user{msg}@example.com");
            b.push_labelled(g, &key, kind, at, class, diag, Some(&message_id), Some(&recipient));
        }
        batches.push(b);
        globals.push(order);
        row += rows;
    }
    (batches, globals)
}

/// What a SQL aggregate does with one engine's rules: fold each batch, then merge each
/// batch's partial states into the running state of their messages.
fn reduce_all<R: Rules>(rules: &R, encoded: &[Vec<u8>], globals: &[Vec<u32>]) -> Vec<Vec<u8>>
where
    R::Error: std::fmt::Debug,
{
    let mut running: Vec<Vec<u8>> = vec![Vec::new(); MESSAGES];
    for (input, global) in encoded.iter().zip(globals) {
        let envelope = rules.call_binary("batch.fold", input).unwrap();
        let partial = mailstate_core::batch::States::from_bytes(envelope[1..].to_vec()).unwrap();
        let mut merge = StateBatch::new(u32::try_from(global.len()).unwrap());
        for (g, (state, msg)) in partial.iter().zip(global).enumerate() {
            let g = u32::try_from(g).unwrap();
            merge.push(g, state);
            let old = &running[*msg as usize];
            if !old.is_empty() {
                merge.push(g, old);
            }
        }
        let merged = rules.merge(&merge).unwrap();
        for (state, msg) in merged.iter().zip(global) {
            running[*msg as usize] = state.to_vec();
        }
    }
    running
}

fn bench(c: &mut Criterion) {
    let plugin = plugin();

    let mut group = c.benchmark_group("normalize");
    for (name, input) in normalize_inputs() {
        assert_eq!(
            plugin.call("normalize", &input).unwrap(),
            NativeRules.call("normalize", &input).unwrap()
        );
        group.bench_with_input(BenchmarkId::new("native", &name), &input, |b, input| {
            b.iter(|| NativeRules.call("normalize", black_box(input)).unwrap());
        });
        group.bench_with_input(BenchmarkId::new("plugin", &name), &input, |b, input| {
            b.iter(|| plugin.call("normalize", black_box(input)).unwrap());
        });
    }
    group.finish();

    let (batches, globals) = reduce_inputs();
    // Encoding the columns is the caller's work (a SQL engine hands over Arrow buffers).
    let encoded: Vec<Vec<u8>> = batches.iter().map(EventBatch::encode).collect();
    let native = reduce_all(&NativeRules, &encoded, &globals);
    assert!(reduce_all(&plugin, &encoded, &globals) == native, "plugin and native states differ");

    let mut group = c.benchmark_group("reduce-1M-events");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1));
    group.bench_function("native", |b| b.iter(|| reduce_all(&NativeRules, &encoded, &globals)));
    group.bench_function("plugin", |b| b.iter(|| reduce_all(&plugin, &encoded, &globals)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
