//! Each function's contract through SQL.

use datafusion::assert_batches_eq;

use crate::util::TestExecution;

const EVENTS: &str = "(VALUES
    ('m1', 'delivered',   TIMESTAMP '2025-11-03T10:00:00Z', 'k1', CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR)),
    ('m1', 'click',       TIMESTAMP '2025-11-03T09:59:00Z', 'k2', NULL, NULL),
    ('m1', 'delivered',   TIMESTAMP '2025-11-03T10:00:00Z', 'k1', NULL, NULL),
    ('m2', 'hard_bounce', TIMESTAMP '2025-11-03T10:00:00Z', 'k3', 'hard', '550 5.1.1 user unknown'),
    ('m2', 'open',        TIMESTAMP '2025-11-03T11:00:00Z', 'k4', NULL, NULL),
    ('m2', NULL,          TIMESTAMP '2025-11-03T12:00:00Z', 'k5', NULL, NULL),
    ('m2', 'open',        TIMESTAMP '2025-11-03T12:00:00Z', NULL, NULL, NULL)
) AS e(message_id, type, occurred_at, event_key, bounce_class, diagnostic)";

#[tokio::test]
async fn message_state_returns_cores_fields_and_skips_rows_without_event() {
    let t = TestExecution::new(2);
    let sql = format!(
        "SELECT message_id,
                get_field(s, 'status') AS status,
                get_field(s, 'terminal') AS terminal,
                get_field(s, 'delivered_at') AS delivered_at,
                get_field(s, 'event_count') AS events,
                get_field(s, 'late_event_count') AS late,
                get_field(s, 'bounce_class') AS class,
                get_field(s, 'diagnostic') AS diagnostic
         FROM (SELECT message_id,
                      message_state(type, occurred_at, event_key, bounce_class, diagnostic) AS s
               FROM {EVENTS} GROUP BY message_id)
         ORDER BY message_id"
    );
    let batches = t.run(&sql).await.unwrap();
    assert_batches_eq!(
        [
            "+------------+-------------+----------+----------------------+--------+------+-------+------------------------+",
            "| message_id | status      | terminal | delivered_at         | events | late | class | diagnostic             |",
            "+------------+-------------+----------+----------------------+--------+------+-------+------------------------+",
            "| m1         | click       | false    | 2025-11-03T10:00:00Z | 2      | 0    |       |                        |",
            "| m2         | hard_bounce | true     |                      | 2      | 1    | hard  | 550 5.1.1 user unknown |",
            "+------------+-------------+----------+----------------------+--------+------+-------+------------------------+",
        ],
        &batches
    );
}

#[tokio::test]
async fn message_state_without_group_by_and_with_filter() {
    let t = TestExecution::new(2);
    let sql = format!(
        "SELECT get_field(message_state(type, occurred_at, event_key), 'event_count') AS all_events,
                get_field(message_state(type, occurred_at, event_key)
                          FILTER (WHERE message_id = 'm1'), 'status') AS m1_status
         FROM {EVENTS}"
    );
    let batches = t.run(&sql).await.unwrap();
    assert_batches_eq!(
        [
            "+------------+-----------+",
            "| all_events | m1_status |",
            "+------------+-----------+",
            "| 4          | click     |",
            "+------------+-----------+",
        ],
        &batches
    );
}

#[tokio::test]
async fn message_state_over_no_rows_is_an_empty_state() {
    let t = TestExecution::new(1);
    let sql = format!(
        "SELECT get_field(message_state(type, occurred_at, event_key), 'status') AS status,
                get_field(message_state(type, occurred_at, event_key), 'event_count') AS n
         FROM {EVENTS} WHERE message_id = 'none'"
    );
    let batches = t.run(&sql).await.unwrap();
    assert_batches_eq!(
        [
            "+---------+---+",
            "| status  | n |",
            "+---------+---+",
            "| unknown | 0 |",
            "+---------+---+"
        ],
        &batches
    );
}

#[tokio::test]
async fn message_state_as_a_running_window() {
    let t = TestExecution::new(1);
    let sql = format!(
        "SELECT event_key, get_field(message_state(type, occurred_at, event_key) OVER (
                    PARTITION BY message_id ORDER BY occurred_at, event_key
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), 'status') AS status_after
         FROM {EVENTS} WHERE message_id = 'm1' ORDER BY occurred_at, event_key"
    );
    let batches = t.run(&sql).await.unwrap();
    assert_batches_eq!(
        [
            "+-----------+--------------+",
            "| event_key | status_after |",
            "+-----------+--------------+",
            "| k2        | click        |",
            "| k1        | click        |",
            "| k1        | click        |",
            "+-----------+--------------+",
        ],
        &batches
    );
}

#[tokio::test]
async fn an_unknown_type_name_is_an_invalid_value_error() {
    let t = TestExecution::new(1);
    let err = t
        .run("SELECT message_state('bounced', TIMESTAMP '2025-11-03T10:00:00Z', 'k1')")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("(invalid_value)") && err.contains("bounced"), "{err}");
    let err = t.run("SELECT event_rank('bounced')").await.unwrap_err().to_string();
    assert!(err.contains("(invalid_value)"), "{err}");
    let err = t.run("SELECT message_state('open', 5, 'k1')").await.unwrap_err().to_string();
    assert!(err.contains("argument 2 must be a timestamp"), "{err}");
}

#[tokio::test]
async fn event_rank_and_is_terminal_read_cores_table() {
    let t = TestExecution::new(1);
    let batches = t
        .run(
            "SELECT type, event_rank(type) AS rank, is_terminal(type) AS terminal
             FROM (VALUES ('complaint'), ('hard_bounce'), ('unsubscribe'), ('rejected'),
                          ('click'), ('accepted'), ('unknown'), ('resubscribe'),
                          (CAST(NULL AS VARCHAR))) AS t(type)",
        )
        .await
        .unwrap();
    assert_batches_eq!(
        [
            "+-------------+------+----------+",
            "| type        | rank | terminal |",
            "+-------------+------+----------+",
            "| complaint   | 10   | true     |",
            "| hard_bounce | 9    | true     |",
            "| unsubscribe | 8    | true     |",
            "| rejected    | 7    | true     |",
            "| click       | 6    | false    |",
            "| accepted    | 1    | false    |",
            "| unknown     | 0    | false    |",
            "| resubscribe |      | false    |",
            "|             |      |          |",
            "+-------------+------+----------+",
        ],
        &batches
    );
}

#[tokio::test]
async fn recipient_suppressions_with_default_and_json_policy() {
    let t = TestExecution::new(2);
    let events = "(VALUES
        ('ann@example.com', 'complaint',   TIMESTAMP '2025-11-03T10:00:00Z', 'news', 'k1'),
        ('ann@example.com', 'open',        TIMESTAMP '2025-11-03T11:00:00Z', 'news', 'k2'),
        ('bob@example.com', 'unsubscribe', TIMESTAMP '2025-11-03T10:00:00Z', 'news', 'k3'),
        ('bob@example.com', 'resubscribe', TIMESTAMP '2025-11-04T10:00:00Z', 'news', 'k4'),
        ('cat@example.com', 'delivered',   TIMESTAMP '2025-11-04T10:00:00Z', 'news', 'k5')
    ) AS e(recipient, type, occurred_at, stream, event_key)";
    let sql = format!(
        "SELECT recipient,
                recipient_suppressions(type, occurred_at, stream, event_key) AS default_policy,
                recipient_suppressions(type, occurred_at, stream, event_key,
                                       '{{\"complaint\": \"stream\"}}') AS narrowed
         FROM {events} GROUP BY recipient ORDER BY recipient"
    );
    let batches = t.run(&sql).await.unwrap();
    assert_batches_eq!(
        [
            "+-----------------+-------------------------------------------------------------------------------+---------------------------------------------------------------------------------------+",
            "| recipient       | default_policy                                                                | narrowed                                                                              |",
            "+-----------------+-------------------------------------------------------------------------------+---------------------------------------------------------------------------------------+",
            "| ann@example.com | [{scope: all, reason: complaint, since: 2025-11-03T10:00:00Z, event_key: k1}] | [{scope: stream:news, reason: complaint, since: 2025-11-03T10:00:00Z, event_key: k1}] |",
            "| bob@example.com | []                                                                            | []                                                                                    |",
            "| cat@example.com | []                                                                            | []                                                                                    |",
            "+-----------------+-------------------------------------------------------------------------------+---------------------------------------------------------------------------------------+",
        ],
        &batches
    );
    let err = t
        .run(&format!(
            "SELECT recipient_suppressions(type, occurred_at, stream, event_key, '{{\"nope\": 1}}') FROM {events}"
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("(invalid_policy)"), "{err}");
}
