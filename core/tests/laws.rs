//! The laws that let the edge, SQL and a distributed engine agree, checked on random event
//! sets with duplicates, shuffles and equal timestamps (1,000 cases per law).

use mailstate_core::{
    Automated, BounceCategory, BounceClass, Event, EventFactsRef, EventType, GroupStates,
    MessageState, Timestamp,
    suppress::{SuppressionPolicy, SuppressionState},
};
use proptest::prelude::*;

const CASES: u32 = 1000;

fn kind() -> impl Strategy<Value = EventType> {
    proptest::sample::select(EventType::ALL.to_vec())
}

/// Times from a small set, so equal timestamps are common; sometimes absent.
fn time() -> impl Strategy<Value = Option<Timestamp>> {
    prop_oneof![
        1 => Just(None),
        6 => (0i64..12).prop_map(|h| Timestamp::from_millis(1_762_000_000_000 + h * 3_600_000)),
    ]
}

fn stream() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(proptest::sample::select(vec!["news".to_owned(), "product".to_owned()]))
}

/// An `automated` flag, absent half the time.
fn automated() -> impl Strategy<Value = Option<Automated>> {
    proptest::option::of(proptest::sample::select(vec![
        Automated::PrivacyProxy,
        Automated::Scanner,
    ]))
}

/// A bounce category from a small set.
fn category() -> impl Strategy<Value = BounceCategory> {
    proptest::sample::select(vec![
        BounceCategory::InvalidRecipient,
        BounceCategory::Blocked,
        BounceCategory::Other,
    ])
}

/// One event with the given key; a bounce class, category and diagnostic only on bounces, an
/// `automated` flag (sometimes) only on opens and clicks.
fn event_with_key(key: String) -> impl Strategy<Value = Event> {
    (kind(), time(), stream(), proptest::option::of("[a-c]{1,2}"), automated(), category())
        .prop_map(move |(kind, occurred_at, stream, diag, automated, category)| {
            let mut e = Event::new("test", kind);
            e.event_key.clone_from(&key);
            e.message_id = Some("m1".into());
            e.recipient = Some("ann@example.com".into());
            e.occurred_at = occurred_at;
            e.stream = stream;
            if matches!(kind, EventType::HardBounce | EventType::SoftBounce) {
                e.bounce_class = Some(if kind == EventType::HardBounce {
                    BounceClass::Hard
                } else {
                    BounceClass::Soft
                });
                e.diagnostic = diag;
                e.bounce_category = Some(category);
            }
            if matches!(kind, EventType::Open | EventType::Click) {
                e.automated = automated;
            }
            e
        })
}

/// A set of distinct events (unique keys).
fn distinct_events() -> impl Strategy<Value = Vec<Event>> {
    (0usize..12)
        .prop_flat_map(|n| (0..n).map(|i| event_with_key(format!("k{i:02}"))).collect::<Vec<_>>())
}

/// The same events as a delivery stream: some retried, all shuffled.
fn delivered(events: Vec<Event>) -> impl Strategy<Value = (Vec<Event>, Vec<Event>)> {
    let n = events.len();
    proptest::collection::vec(0..n.max(1), 0..=n * 2).prop_flat_map(move |dups| {
        let mut stream = events.clone();
        if n > 0 {
            stream.extend(dups.iter().map(|&i| events[i].clone()));
        }
        (Just(events.clone()), Just(stream).prop_shuffle())
    })
}

/// Events where keys may collide with different facts (a misbehaving provider); the laws must
/// hold even then.
fn colliding_events() -> impl Strategy<Value = Vec<Event>> {
    proptest::collection::vec((0u8..6).prop_flat_map(|k| event_with_key(format!("k{k}"))), 0..10)
}

fn fold(events: &[Event]) -> MessageState {
    let mut s = MessageState::default();
    for e in events {
        s.apply(e);
    }
    s
}

fn merged(a: &MessageState, b: &MessageState) -> MessageState {
    let mut m = a.clone();
    m.merge(b);
    m
}

fn suppressions_of(
    events: &[Event],
    policy: &SuppressionPolicy,
) -> Vec<mailstate_core::Suppression> {
    let mut s = SuppressionState::default();
    for e in events {
        s.apply(e);
    }
    s.evaluate(policy)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn state_ignores_arrival_order_and_retries((set, stream) in distinct_events().prop_flat_map(delivered)) {
        prop_assert_eq!(fold(&stream).view(), fold(&set).view());
        prop_assert_eq!(fold(&stream), fold(&set));
    }

    #[test]
    fn suppressions_ignore_arrival_order_and_retries((set, stream) in distinct_events().prop_flat_map(delivered)) {
        let policy = SuppressionPolicy::default();
        prop_assert_eq!(suppressions_of(&stream, &policy), suppressions_of(&set, &policy));
        let stream_policy = SuppressionPolicy::from_json(br#"{"complaint":"stream","unsubscribe":"all"}"#).unwrap();
        prop_assert_eq!(suppressions_of(&stream, &stream_policy), suppressions_of(&set, &stream_policy));
    }

    #[test]
    fn merge_is_commutative(a in colliding_events(), b in colliding_events()) {
        let (sa, sb) = (fold(&a), fold(&b));
        prop_assert_eq!(merged(&sa, &sb), merged(&sb, &sa));
    }

    #[test]
    fn merge_is_associative(a in colliding_events(), b in colliding_events(), c in colliding_events()) {
        let (sa, sb, sc) = (fold(&a), fold(&b), fold(&c));
        prop_assert_eq!(merged(&merged(&sa, &sb), &sc), merged(&sa, &merged(&sb, &sc)));
    }

    #[test]
    fn merge_is_idempotent(a in colliding_events()) {
        let sa = fold(&a);
        prop_assert_eq!(merged(&sa, &sa), sa);
    }

    #[test]
    fn folding_equals_merging_any_partition(
        (events, cuts) in colliding_events().prop_flat_map(|e| {
            let n = e.len();
            (Just(e), proptest::collection::vec(0..=n, 0..4))
        })
    ) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut parts = Vec::new();
        let mut start = 0;
        for c in cuts.into_iter().chain([events.len()]) {
            parts.push(fold(&events[start..c]));
            start = c;
        }
        let mut total = MessageState::default();
        for p in parts.iter().rev() {
            total.merge(p);
        }
        prop_assert_eq!(&total, &fold(&events));
        prop_assert_eq!(total.view(), fold(&events).view());
    }

    #[test]
    fn suppression_merge_equals_fold(a in colliding_events(), b in colliding_events()) {
        let policy = SuppressionPolicy::default();
        let mut sa = SuppressionState::default();
        for e in &a {
            sa.apply(e);
        }
        let mut sb = SuppressionState::default();
        for e in &b {
            sb.apply(e);
        }
        let mut ab = sa.clone();
        ab.merge(&sb);
        let mut ba = sb.clone();
        ba.merge(&sa);
        prop_assert_eq!(&ab, &ba);
        let all: Vec<Event> = a.iter().chain(b.iter()).cloned().collect();
        prop_assert_eq!(ab.evaluate(&policy), suppressions_of(&all, &policy));
    }

    #[test]
    fn flat_group_storage_holds_the_states_folding_would(a in colliding_events(), b in colliding_events()) {
        // Two groups, their events interleaved: each group's state equals its own fold.
        let mut groups = GroupStates::default();
        groups.resize(2);
        let n = a.len().max(b.len());
        for i in 0..n {
            if let Some(e) = a.get(i) {
                groups.insert(0, &e.event_key, EventFactsRef::from_event(e)).unwrap();
            }
            if let Some(e) = b.get(i) {
                groups.insert(1, &e.event_key, EventFactsRef::from_event(e)).unwrap();
            }
        }
        let unlabelled = |events: &[Event]| {
            let mut s = MessageState::default();
            for e in events {
                s.insert_ref(&e.event_key, EventFactsRef::from_event(e));
            }
            s
        };
        prop_assert_eq!(groups.state(0), unlabelled(&a));
        prop_assert_eq!(groups.state(1), unlabelled(&b));
        // The view read from the records, without building a state, is the state's view.
        prop_assert_eq!(groups.view(0), unlabelled(&a).view());
        prop_assert_eq!(groups.view(1), unlabelled(&b).view());
        // Draining gives the same views, in group order.
        let mut drained = Vec::new();
        groups.clone().drain_views(|v| drained.push(v));
        prop_assert_eq!(drained, vec![unlabelled(&a).view(), unlabelled(&b).view()]);
        // So is its encoding, and merging that encoding into another store gives the state.
        let mut copy = GroupStates::default();
        for (g, events) in [(0, &a), (1, &b)] {
            let mut encoded = Vec::new();
            groups.encode_into(g, &mut encoded);
            prop_assert_eq!(&encoded, &unlabelled(events).encode());
            copy.merge_encoded(g, &encoded).unwrap();
            prop_assert_eq!(copy.state(g), unlabelled(events));
        }
    }

    #[test]
    fn encoding_round_trips(a in colliding_events()) {
        let s = fold(&a);
        prop_assert_eq!(MessageState::decode(&s.encode()).unwrap(), s);
    }
}
