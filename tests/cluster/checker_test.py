#!/usr/bin/python3
"""checker.py against made-up stores, read models and logs: a clean run passes, and each kind of
damage (lost, duplicated, moved, a stream out of order, a read model that skipped, applied twice
or lags, a subscriber that skipped or went back) is found. Runs without root or services."""
import hashlib
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402


def uid(i):
    return f"{i:08x}-0000-4000-8000-{i:012x}"


class Cluster:
    """A store of `n` events on two streams, the logs of a client that had them all acknowledged
    and of a subscriber that saw them all, and a query node that applied them all."""

    def __init__(self, n=6):
        self.events = []  # global_seq, hex id, stream, stream_seq, n
        seqs = {}
        for i in range(1, n + 1):
            stream = f"cl-c1-w{i % 2}"
            seqs[stream] = seqs.get(stream, 0) + 1
            self.events.append([i * 2, checker.hex_id(uid(i)), stream, seqs[stream], str(seqs[stream])])
        self.acks = [f"A {uid(i)} {e[2]} {e[0]} {e[3]} {1000 + i} {2000 + i} 1 0" for i, e in enumerate(self.events, 1)]
        self.seen = [f"{e[0]} {uid(i)} 3000" for i, e in enumerate(self.events, 1)]
        self.model_rows = [[checker.uuid_text(e[1]), str(e[0]), e[2], str(e[3]), "5000"] for e in self.events]
        self.checkpoint = self.head()
        self.streams = None

    def head(self):
        return max(e[0] for e in self.events)

    def model_streams(self):
        out = {}
        for r in self.model_rows:
            count, _last, digest = out.get(r[2], (0, 0, ""))
            out[r[2]] = (count + 1, int(r[1]), hashlib.md5((digest + r[0]).encode()).hexdigest())
        return [[s, str(v[0]), str(v[1]), v[2]] for s, v in out.items()]

    def store(self, query):
        if query.startswith("SELECT COALESCE(MAX"):
            return [[str(self.head())]]
        return [[str(e[0]), e[1], e[2], str(e[3]), e[4]] for e in sorted(self.events)]

    def query(self, q):
        if "even_checkpoints" in q:
            return [[str(self.checkpoint)]]
        if "cl_events" in q:
            return self.model_rows
        return self.streams if self.streams is not None else self.model_streams()

    def check(self):
        with tempfile.TemporaryDirectory() as d:
            appends, seen = os.path.join(d, "c1.appends"), os.path.join(d, "c1.seen")
            with open(appends, "w") as f:
                f.write("\n".join(self.acks) + "\n")
            with open(seen, "w") as f:
                f.write("# state live feed\n" + "\n".join(self.seen) + "\n")
            return checker.check(self.store, {"q1": self.query}, [appends], [seen], "cluster")


class CheckerTest(unittest.TestCase):
    def test_a_clean_run_passes(self):
        r = Cluster().check()
        self.assertEqual((r["acknowledged"], r["lost"], r["duplicated"], r["misordered"]), (6, 0, 0, 0))
        self.assertTrue(r["read_models_equal"])
        self.assertTrue(r["subscribers_ok"])

    def test_an_acknowledged_event_missing_from_the_store_is_lost(self):
        c = Cluster()
        del c.events[2]
        c.model_rows = [r for r in c.model_rows if r[0] != uid(3)]
        c.seen = [s for s in c.seen if uid(3) not in s]
        r = c.check()
        self.assertEqual(r["lost"], 1)

    def test_one_client_event_under_two_ids_is_duplicated(self):
        c = Cluster()
        last = c.events[-1]
        c.events.append([last[0] + 1, checker.hex_id(uid(99)), last[2], last[3] + 1, last[4]])
        r = c.check()
        self.assertEqual(r["duplicated"], 1)
        self.assertFalse(r["read_models_equal"])  # the query node did not apply it; checkpoint behind

    def test_an_event_stored_at_another_position_is_misordered(self):
        c = Cluster()
        c.events[0][0], c.events[1][0] = c.events[1][0], c.events[0][0]
        r = c.check()
        self.assertGreaterEqual(r["misordered"], 2)

    def test_a_read_model_that_skipped_an_event_is_unequal(self):
        c = Cluster()
        del c.model_rows[3]
        self.assertFalse(c.check()["read_models_equal"])

    def test_a_read_model_that_applied_an_event_twice_is_unequal(self):
        c = Cluster()
        c.model_rows.append(list(c.model_rows[2]))
        self.assertFalse(c.check()["read_models_equal"])

    def test_a_read_model_applied_out_of_order_is_unequal(self):
        c = Cluster()
        same = [i for i, r in enumerate(c.model_rows) if r[2] == c.model_rows[0][2]]
        c.model_rows[same[0]], c.model_rows[same[1]] = c.model_rows[same[1]], c.model_rows[same[0]]
        streams = c.model_streams()
        c.model_rows[same[0]], c.model_rows[same[1]] = c.model_rows[same[1]], c.model_rows[same[0]]
        c.streams = streams  # same rows, digest of the wrong order
        self.assertFalse(c.check()["read_models_equal"])

    def test_a_checkpoint_behind_the_head_is_unequal(self):
        c = Cluster()
        c.checkpoint = c.head() - 2
        c.model_rows = c.model_rows[:-1]
        self.assertFalse(c.check()["read_models_equal"])

    def test_a_subscriber_that_missed_an_event_fails(self):
        c = Cluster()
        del c.seen[4]
        self.assertFalse(c.check()["subscribers_ok"])

    def test_a_subscriber_that_went_back_is_misordered(self):
        c = Cluster()
        c.seen.insert(3, c.seen[1])
        r = c.check()
        self.assertFalse(r["subscribers_ok"])
        self.assertGreaterEqual(r["misordered"], 1)

    def test_failover_is_the_end_of_the_longest_pause_after_the_kill(self):
        acks = {str(i): ("s", i, 1, 0, int(t * 1e6), 1, False) for i, t in
                enumerate([9.9, 10.001, 10.002, 11.5, 11.501, 11.6, 20.0])}
        # Killed at 10.0; the dying master's replies at 10.001/10.002; the new master from 11.5;
        # the next fault at 15.0 bounds the window (the pause to 20.0 is not this failover).
        self.assertAlmostEqual(checker.failovers_s(acks, [10.0], [10.0, 15.0])[0], 1.5, places=3)


if __name__ == "__main__":
    unittest.main()
