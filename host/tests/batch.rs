use mailstate_core::{
    Automated, BounceCategory, BounceClass, Event, EventFacts, EventType, Headers, NativeRules,
    Payload, Provider, Rules, Timestamp,
    batch::{EventBatch, StateBatch},
    reduce, wire,
};

use crate::plugin;

/// A deterministic mix of events over `messages` messages (every type, bounces with class,
/// category and diagnostic, machine opens and clicks, some without a time, retried keys).
fn events(n: usize, messages: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let kind = EventType::ALL[(i * 7) % EventType::ALL.len()];
            let mut e = Event::new("ses", kind);
            e.event_key = format!("ses:e{}", i % (n - n / 5).max(1));
            e.message_id = Some(format!("m{}", i % messages));
            e.recipient = Some(format!("r{}@example.com", i % messages % 3));
            e.occurred_at = (i % 11 != 0)
                .then(|| {
                    Timestamp::from_millis(
                        1_762_000_000_000 + (i64::try_from(i).unwrap() * 37) % 5_000,
                    )
                })
                .flatten();
            if kind == EventType::HardBounce {
                e.bounce_class = Some(BounceClass::Hard);
                e.diagnostic = Some("550 5.1.1 user unknown".into());
            } else if kind == EventType::SoftBounce {
                e.bounce_class =
                    Some(if i % 2 == 0 { BounceClass::Block } else { BounceClass::Soft });
                e.diagnostic = Some(format!("421 try later ({i})"));
            }
            if matches!(kind, EventType::HardBounce | EventType::SoftBounce) {
                e.bounce_category = Some(BounceCategory::ALL[i % BounceCategory::ALL.len()]);
            }
            if matches!(kind, EventType::Open | EventType::Click) {
                e.automated =
                    [None, Some(Automated::PrivacyProxy), Some(Automated::Scanner)][i % 3];
            }
            e
        })
        .collect()
}

fn batch_of(events: &[Event], messages: usize) -> EventBatch {
    let mut b = EventBatch::new(u32::try_from(messages).unwrap());
    for e in events {
        let group = e.message_id.as_deref().unwrap()[1..].parse::<u32>().unwrap();
        b.push_facts(
            group,
            &e.event_key,
            &EventFacts::from_event(e),
            e.message_id.as_deref(),
            e.recipient.as_deref(),
        );
    }
    b
}

#[test]
fn fold_and_merge_envelopes_are_byte_identical_to_native() {
    let evs = events(2_000, 300);
    let fold_in = batch_of(&evs, 300).encode();
    let native = wire::call_binary("batch.fold", &fold_in);
    let wasm = plugin().call("batch.fold", &fold_in).unwrap();
    assert_eq!(native[0], 0, "fold failed natively: {}", String::from_utf8_lossy(&native));
    assert!(wasm == native, "batch.fold differs between plugin and native");

    let states = NativeRules.fold(&batch_of(&evs, 300)).unwrap();
    let mut sb = StateBatch::new(150);
    for (i, s) in states.iter().enumerate() {
        sb.push(u32::try_from(i / 2).unwrap(), s);
    }
    sb.push(0, b"\x01garbage");
    let merge_in = sb.encode();
    let native = wire::call_binary("batch.merge", &merge_in);
    let wasm = plugin().call("batch.merge", &merge_in).unwrap();
    assert!(wasm == native, "batch.merge differs between plugin and native");

    let list: Vec<&[u8]> = states.iter().collect();
    let view_in = mailstate_core::batch::encode_state_list(list);
    assert_eq!(
        plugin().call("batch.view", &view_in).unwrap(),
        wire::call_binary("batch.view", &view_in)
    );
}

#[test]
fn typed_fold_through_the_plugin_equals_reduce() {
    let evs = events(500, 40);
    let states = plugin().fold(&batch_of(&evs, 40)).unwrap();
    assert!(states.errors().is_empty());
    let mut expected = reduce(&evs);
    // reduce orders groups by (message_id, recipient); the batch by group number.
    expected.sort_by_key(|s| s.message_id.as_deref().unwrap()[1..].parse::<u32>().unwrap());
    assert_eq!(states.len(), expected.len());
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(&states.decode(i).unwrap(), want, "group {i}");
    }
}

#[test]
fn typed_methods_agree_with_native() {
    let evs = events(60, 7);
    assert_eq!(plugin().reduce(&evs).unwrap(), NativeRules.reduce(&evs).unwrap());

    let body: String = evs.iter().map(|e| e.to_json() + "\n").collect::<String>() + "{\"x\":1}\n";
    let headers = Headers::new();
    let payload = Payload { body: body.as_bytes(), headers: &headers };
    let wasm = plugin().normalize(Provider::Ndjson, payload).unwrap();
    assert_eq!(wasm, NativeRules.normalize(Provider::Ndjson, payload).unwrap());
    assert_eq!(wasm.errors.len(), 1);
    assert_eq!(wasm.errors[0].line(), Some(61));

    let states = NativeRules.fold(&batch_of(&evs, 7)).unwrap();
    let list: Vec<&[u8]> = states.iter().collect();
    assert_eq!(plugin().views(&list).unwrap(), NativeRules.views(&list).unwrap());
}

#[test]
fn rules_errors_come_back_as_guest_errors_with_their_code() {
    let mut batch = EventBatch::new(1);
    batch.push(5, "ses:1", EventType::Open, None, None, None);
    let err = plugin().fold(&batch).unwrap_err();
    assert_eq!(err.guest_code(), Some("invalid_value"), "{err}");
    assert!(!err.is_sandbox());
    assert!(err.to_string().contains("group 5 out of range"), "{err}");
    let native = NativeRules.fold(&batch).unwrap_err();
    assert_eq!(err.to_string(), native.to_string());

    let envelope = plugin().call("no_such_op", b"{}").unwrap();
    assert_eq!(envelope, wire::call("no_such_op", b"{}"));
}
