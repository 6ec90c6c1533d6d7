"""The cluster rig's checker: what the run proves, judged from the outside.

It uses nothing of Even's code: SQL against the store and the query databases (functions that
return rows), and the logs the clients and subscribers wrote (even-cluster-client):

- every acknowledged event is in the store exactly once, at the positions its acknowledgement
  named (lost / duplicated / misordered);
- each stream's events have stream sequences 1..N in global order (misordered);
- each query node's read model equals the one computed here from the store in global order,
  up to its checkpoint, and every checkpoint is the store's head (read_models_equal);
- each subscriber saw strictly increasing positions and every acknowledged event (subscribers_ok).
"""
import bisect
import hashlib
import os


def count_lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def last_position(path):
    """The last position a subscriber logged (0 if none)."""
    last = 0
    try:
        with open(path) as f:
            for line in f:
                if line and line[0] != "#":
                    last = int(line.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return last


def hex_id(uuid_text):
    return uuid_text.replace("-", "").lower()


def uuid_text(hex_text):
    h = hex_text.lower()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def read_appends(paths):
    """acks: id -> (stream, global_seq, stream_seq, sent_us, acked_us, attempts, idempotent)."""
    acks, errors, unknown, twice = {}, [], 0, 0
    for path in paths:
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split(" ")
                if parts[0] == "A":
                    eid = hex_id(parts[1])
                    if eid in acks:
                        twice += 1
                    acks[eid] = (parts[2], int(parts[3]), int(parts[4]), int(parts[5]), int(parts[6]),
                                 int(parts[7]), parts[8] == "1")
                elif parts[0] == "E":
                    errors.append(line.strip())
                elif parts[0] == "G":
                    unknown += 1
    return acks, errors, unknown, twice


def model_from_store(events, upto):
    """The read model of projections.*.json computed from the store's events in global order."""
    rows, streams = set(), {}
    for gseq, eid, stream, sseq, _n in events:
        if gseq > upto:
            break
        rows.add((uuid_text(eid), gseq, stream, sseq))
        count, _last, digest = streams.get(stream, (0, 0, ""))
        streams[stream] = (count + 1, gseq, hashlib.md5((digest + uuid_text(eid)).encode()).hexdigest())
    return rows, streams


def check(store, query, appends, seen, projection):
    notes = []
    acks, errors, unknown, acked_twice = read_appends(appends)
    if acked_twice:
        notes.append(f"{acked_twice} event ids acknowledged twice in the client logs")
    for e in errors[:10]:
        notes.append("append error: " + e)

    # The store, in global order: (global_seq, hex id, stream, stream_seq, payload n).
    events = [(int(r[0]), r[1], r[2], int(r[3]), r[4]) for r in store(
        "SELECT global_seq, LOWER(HEX(event_id)), stream, stream_seq, "
        "JSON_VALUE(CONVERT(payload USING utf8mb4), '$.n') FROM events WHERE category = 'cl' ORDER BY global_seq")]
    head = int(store("SELECT COALESCE(MAX(global_seq), 0) FROM events")[0][0])
    by_id = {}
    copies = {}
    for gseq, eid, stream, sseq, n in events:
        by_id.setdefault(eid, []).append((gseq, stream, sseq))
        copies[(stream, n)] = copies.get((stream, n), 0) + 1

    lost = [eid for eid in acks if eid not in by_id]
    # Stored more than once: the same id (the UNIQUE key forbids it) or the same client event
    # (stream and payload counter) under two ids.
    duplicated = sum(len(v) - 1 for v in by_id.values() if len(v) > 1) + sum(c - 1 for c in copies.values() if c > 1)
    moved = [eid for eid, a in acks.items()
             if eid in by_id and (by_id[eid][0][0] != a[1] or by_id[eid][0][2] != a[2] or by_id[eid][0][1] != a[0])]
    for eid in lost[:5]:
        notes.append(f"lost: acknowledged {uuid_text(eid)} {acks[eid]} is not in the store")
    for eid in moved[:5]:
        notes.append(f"moved: {uuid_text(eid)} acknowledged at {acks[eid][:3]}, stored at {by_id[eid][0]}")
    # Stream sequences 1..N in global order.
    next_seq, bad_streams = {}, 0
    for gseq, eid, stream, sseq, _n in events:
        want = next_seq.get(stream, 1)
        if sseq != want:
            bad_streams += 1
            if bad_streams <= 5:
                notes.append(f"stream {stream}: sequence {sseq} at {gseq}, expected {want}")
        next_seq[stream] = sseq + 1

    # Subscribers.
    subscribers_ok, sub_misordered, received = True, 0, {}
    acked_positions = {a[1] for a in acks.values()}
    for path in seen:
        prev, positions = 0, set()
        with open(path) as f:
            for line in f:
                if line.startswith("#"):
                    if line.startswith("# error"):
                        subscribers_ok = False
                        notes.append(f"{os.path.basename(path)}: {line.strip()}")
                    continue
                fields = line.split()
                gseq = int(fields[0])
                if path == seen[0]:
                    received[hex_id(fields[1])] = int(fields[2])
                if gseq <= prev:
                    sub_misordered += 1
                    if sub_misordered <= 5:
                        notes.append(f"{os.path.basename(path)}: position {gseq} after {prev}")
                prev = gseq
                positions.add(gseq)
        missing = sorted(p for p in acked_positions if p not in positions)
        if missing:
            subscribers_ok = False
            notes.append(f"{os.path.basename(path)}: {len(missing)} acknowledged events not seen "
                         f"(first {missing[:5]}, last position seen {prev})")
        if sub_misordered:
            subscribers_ok = False

    # Query nodes.
    read_models_equal, checkpoints, applied, models = True, {}, {}, {}
    for q, sql in query.items():
        rows = sql(f"SELECT position FROM even_checkpoints WHERE projection = '{projection}'")
        cp = int(rows[0][0]) if rows else 0
        checkpoints[q] = cp
        model_rows = sql("SELECT event_id, global_seq, stream, stream_seq, applied_us FROM cl_events")
        got_rows = [(r[0], int(r[1]), r[2], int(r[3])) for r in model_rows]
        applied[q] = {hex_id(r[0]): int(r[4]) for r in model_rows}
        got_streams = {r[0]: (int(r[1]), int(r[2]), r[3]) for r in
                       sql("SELECT stream, events, last_seq, digest FROM cl_streams")}
        models[q] = (set(got_rows), got_streams)
        want_rows, want_streams = model_from_store(events, cp)
        equal = True
        if len(got_rows) != len(set(got_rows)):
            equal = False
            notes.append(f"{q}: {len(got_rows) - len(set(got_rows))} events applied twice")
        if set(got_rows) != want_rows:
            equal = False
            extra, missing = set(got_rows) - want_rows, want_rows - set(got_rows)
            notes.append(f"{q}: read model differs from the store up to {cp}: {len(missing)} missing "
                         f"(e.g. {sorted(missing, key=lambda r: r[1])[:2]}), {len(extra)} extra "
                         f"(e.g. {sorted(extra, key=lambda r: r[1])[:2]})")
        if got_streams != want_streams:
            equal = False
            diff = [s for s in set(got_streams) | set(want_streams) if got_streams.get(s) != want_streams.get(s)]
            notes.append(f"{q}: {len(diff)} streams differ (count, last position, order digest), e.g. "
                         f"{diff[0]}: {got_streams.get(diff[0])} vs the store's {want_streams.get(diff[0])}")
        if cp != head:
            equal = False
            notes.append(f"{q}: checkpoint {cp}, the store's head {head}")
        read_models_equal = read_models_equal and equal
    # The query nodes against each other (e.g. PostgreSQL against MariaDB): the same tables.
    names = sorted(models)
    query_nodes_equal = all(models[a] == models[names[0]] for a in names[1:])
    if not query_nodes_equal:
        read_models_equal = False
        notes.append(f"the query nodes' tables differ: {', '.join(names)}")
    notes.append(f"{len(acks)} acknowledged, {len(events)} cluster events stored, head {head}, "
                 f"checkpoints {checkpoints}, {unknown} appends given up (outcome unknown)")
    return {
        "acknowledged": len(acks), "acks": acks, "applied": applied, "received": received,
        "lost": len(lost), "duplicated": duplicated,
        "misordered": len(moved) + bad_streams + sub_misordered,
        "read_models_equal": read_models_equal, "query_nodes_equal": query_nodes_equal,
        "subscribers_ok": subscribers_ok,
        "append_errors": len(errors), "unknown_outcome": unknown,
        "resent": sum(1 for a in acks.values() if a[5] > 1),
        "idempotent": sum(1 for a in acks.values() if a[6]),
        "checkpoints": checkpoints, "notes": notes,
    }


def end_to_end_ms(acks, applied, from_us, to_us):
    """Append sent -> row in a query node's read model, for events sent in [from_us, to_us)."""
    lat = sorted((applied[eid] - a[3]) / 1000.0 for eid, a in acks.items()
                 if from_us <= a[3] < to_us and eid in applied)
    if not lat:
        return {"p50": None, "p99": None, "n": 0}

    def pct(p):
        return round(lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))], 2)
    return {"p50": pct(50), "p99": pct(99), "n": len(lat)}


def failovers_s(acks, kills, fault_starts):
    """For each SIGKILL of the master writer at time t: from t to the end of the longest pause
    between two acknowledgements (of any client) after t, up to the next fault (at most 30 s):
    the time until appends were acknowledged again. Replies the killed master sent before it
    died still arrive just after t, so the first acknowledgement after t is not the measure."""
    times = sorted(a[4] / 1e6 for a in acks.values())
    out = []
    for t in kills:
        end = min([s for s in fault_starts if s > t] + [t + 30])
        i = bisect.bisect_left(times, t)
        j = bisect.bisect_right(times, end)
        window = [t] + times[i:j]
        if len(window) < 2:
            continue
        gap_end = max(zip(window, window[1:]), key=lambda p: p[1] - p[0])[1]
        out.append(gap_end - t)
    return out
