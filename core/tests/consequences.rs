//! The consequences DESIGN.md asks for, one named test each.

use mailstate_core::{
    BounceClass, Event, EventType, MessageState, Timestamp, reduce, suppress::SuppressionPolicy,
    suppressions,
};

fn at(minute: i64) -> Option<Timestamp> {
    Timestamp::from_millis(1_762_200_000_000 + minute * 60_000)
}

fn ev(key: &str, kind: EventType, minute: i64) -> Event {
    let mut e = Event::new("test", kind);
    e.event_key = key.into();
    e.message_id = Some("m1".into());
    e.recipient = Some("ann@example.com".into());
    e.occurred_at = at(minute);
    if kind == EventType::HardBounce {
        e.bounce_class = Some(BounceClass::Hard);
    }
    e
}

fn state(events: &[Event]) -> mailstate_core::StateView {
    let mut s = MessageState::default();
    for e in events {
        s.apply(e);
    }
    s.view()
}

#[test]
fn click_before_delivered_gives_click_and_still_records_delivered_at() {
    let v = state(&[ev("c", EventType::Click, 5), ev("d", EventType::Delivered, 1)]);
    assert_eq!(v.status, EventType::Click);
    assert_eq!(v.delivered_at, at(1));
    assert_eq!(v.first_click_at, at(5));
}

#[test]
fn opens_after_hard_bounce_enrich_history_but_keep_status() {
    let v = state(&[
        ev("b", EventType::HardBounce, 1),
        ev("o1", EventType::Open, 2),
        ev("o2", EventType::Open, 3),
    ]);
    assert_eq!(v.status, EventType::HardBounce);
    assert!(v.terminal);
    assert_eq!(v.terminal_at, at(1));
    assert_eq!(v.open_count, 2);
    assert_eq!(v.last_event_at, at(3));
    assert_eq!(v.late_event_count, 2);
}

#[test]
fn hard_bounce_outranks_delivered() {
    let v = state(&[ev("b", EventType::HardBounce, 5), ev("d", EventType::Delivered, 1)]);
    assert_eq!(v.status, EventType::HardBounce);
    assert_eq!(v.bounce_class, Some(BounceClass::Hard));
}

#[test]
fn bounce_retried_five_times_counts_once() {
    let b = ev("b", EventType::HardBounce, 1);
    let v = state(&[b.clone(), b.clone(), b.clone(), b.clone(), b]);
    assert_eq!(v.event_count, 1);
    assert_eq!(v.late_event_count, 0);
}

#[test]
fn deferred_after_delivered_changes_nothing() {
    let before = state(&[ev("d", EventType::Delivered, 1)]);
    let after = state(&[ev("d", EventType::Delivered, 1), ev("f", EventType::Deferred, 2)]);
    assert_eq!(after.status, before.status);
    assert_eq!(after.delivered_at, before.delivered_at);
    assert_eq!(after.deferred_count, 1);
}

#[test]
fn unsubscribe_is_scoped_to_its_stream_and_lifted_by_a_later_resubscribe() {
    let mut unsub = ev("u", EventType::Unsubscribe, 1);
    unsub.stream = Some("news".into());
    let policy = SuppressionPolicy::default();
    let s = suppressions([&unsub], &policy);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].scope, "stream:news");

    let mut resub_other = ev("r1", EventType::Resubscribe, 2);
    resub_other.stream = Some("product".into());
    assert_eq!(suppressions([&unsub, &resub_other], &policy).len(), 1);

    let mut resub = ev("r2", EventType::Resubscribe, 2);
    resub.stream = Some("news".into());
    assert!(suppressions([&unsub, &resub], &policy).is_empty());

    let mut earlier_resub = resub.clone();
    earlier_resub.occurred_at = at(0);
    assert_eq!(suppressions([&earlier_resub, &unsub], &policy).len(), 1);
}

#[test]
fn reduce_groups_by_message_and_recipient() {
    let mut other = ev("x", EventType::Open, 1);
    other.recipient = Some("bob@example.com".into());
    let states = reduce([&ev("a", EventType::Open, 1), &other]);
    assert_eq!(states.len(), 2);
}
