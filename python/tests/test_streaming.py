"""2,000,000 generated events read in 64K-row batches give the states of one table, and the
stream's peak memory is bounded by the states, not the input."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pyarrow as pa

import mailstate

EVENTS = 2_000_000
BATCH = 64 * 1024

# Generates `n` synthetic events batch by batch: 8 events per message over 5 types, a third of
# them retries of an earlier event (same key), times spread over a day. Shared with the child
# process below, which must never hold the whole input.
GENERATOR = textwrap.dedent(
    """
    import pyarrow as pa, pyarrow.compute as pc

    TYPES = pa.array(["accepted", "delivered", "open", "click", "open", "hard_bounce",
                      "deferred", "soft_bounce"])

    def batch(start, n, distinct=None):
        # Rows past `distinct` repeat earlier rows exactly (retried deliveries).
        i = pa.array([j % distinct for j in range(start, start + n)] if distinct else
                     range(start, start + n), pa.int64())
        msg = pc.divide(i, 8)
        slot = pc.subtract(i, pc.multiply(msg, 8))
        key_slot = pc.if_else(pc.equal(pc.bit_wise_and(slot, 3), 3), pc.subtract(slot, 1), slot)
        key = pc.binary_join_element_wise("k", msg.cast(pa.string()), key_slot.cast(pa.string()), ":")
        at = pc.add(pc.multiply(pc.add(pc.multiply(msg, 7), key_slot), 60_000), 1_762_000_000_000)
        return pa.record_batch({
            "message_id": pc.binary_join_element_wise("m", msg.cast(pa.string()), ""),
            "recipient": pc.binary_join_element_wise("r", pc.bit_wise_and(msg, 1023).cast(pa.string()), "@example.com", ""),
            "type": TYPES.take(key_slot),
            "event_key": key,
            "occurred_at": at.cast(pa.timestamp("ms", tz="UTC")),
            "raw": pc.binary_join_element_wise("{\\"padding\\": \\"", pc.utf8_lpad(key, 200, "x"), "\\"}", ""),
        })

    def batches(total, size, distinct=None):
        for start in range(0, total, size):
            yield batch(start, min(size, total - start), distinct)
    """
)
exec(GENERATOR)  # defines batch() and batches()


def test_stream_of_batches_equals_one_table():
    table = pa.Table.from_batches(list(batches(EVENTS, 1_000_000)))  # noqa: F821
    one = mailstate.message_states(table)
    schema = table.schema
    reader = pa.RecordBatchReader.from_batches(schema, batches(EVENTS, BATCH))  # noqa: F821
    streamed = mailstate.message_states(reader)
    assert streamed.num_rows == EVENTS // 8
    assert streamed.equals(one)
    assert mailstate.message_states(table, batch_size=BATCH).equals(one)


CHILD = GENERATOR + textwrap.dedent(
    """
    import json, sys, mailstate

    def hwm_kb():
        # VmHWM is this process's own peak (ru_maxrss would inherit the parent's across exec).
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    total, size, distinct = (int(a) for a in sys.argv[1:4])
    schema = batch(0, 1).schema
    before = hwm_kb()
    states = mailstate.message_states(pa.RecordBatchReader.from_batches(
        schema, batches(total, size, distinct)))
    print(json.dumps({"rows": states.num_rows, "grew_kb": hwm_kb() - before,
                      "input_bytes": total * batch(0, 1).nbytes}))
    """
)


def peak(total: int, distinct: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(total), str(BATCH), str(distinct)],
        capture_output=True, check=True, text=True,
    )
    return json.loads(out.stdout)


def test_streaming_peak_memory_is_bounded_by_the_states():
    # The same 500,000 distinct events, once and then four times over (2,000,000 events, the
    # rest retries): the states are the same, so the peak must be too, whatever the input.
    once, four = peak(EVENTS // 4, EVENTS // 4), peak(EVENTS, EVENTS // 4)
    grew = [m["grew_kb"] / 1024 for m in (once, four)]
    input_mb = four["input_bytes"] / 2**20
    print(f"peak RSS grew {grew[0]:.0f} MB for {EVENTS // 4} events, {grew[1]:.0f} MB for "
          f"{EVENTS} events ({input_mb:.0f} MB of Arrow input), {BATCH}-row batches")
    assert once["rows"] == four["rows"] == EVENTS // 4 // 8
    # Generous bounds: a few 64K-row batches in flight, allocator slack.
    assert grew[1] < grew[0] + 64, grew
    assert grew[1] < 512, grew
