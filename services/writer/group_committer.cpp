#include "writer/group_committer.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <unordered_map>
#include <optional>
#include <unordered_set>

#include "even/common/store/replication.h"
#include "even/common/types.h"

namespace even::writer {

namespace {

struct StoredPosition {
  std::string stream;
  std::int64_t stream_seq;
  std::uint64_t global_seq;
};

// Builds "a, b, c" lists of quoted stream names / hex event ids for IN (...) clauses.
template <typename Range, typename Fn>
void append_list(std::string& sql, const Range& items, Fn append_one) {
  bool first = true;
  for (const auto& item : items) {
    if (!first) sql += ',';
    first = false;
    append_one(sql, item);
  }
}

bool expected_matches(const ExpectedVersion& ex, std::int64_t current) {
  switch (ex.kind) {
    case ExpectedVersion::Kind::any: return true;
    case ExpectedVersion::Kind::no_stream: return current == 0;
    case ExpectedVersion::Kind::exists: return current > 0;
    case ExpectedVersion::Kind::exact: return current == ex.version;
  }
  return false;
}

// Whether stored positions of a command's events are what this command would have produced:
// the idempotent-retry test. `truncate_before` is the stream's: a no-stream append after a soft
// delete started it again there.
bool is_same_append(const AppendCommand& cmd, const std::vector<const StoredPosition*>& rows,
                    std::int64_t truncate_before) {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i]->stream != cmd.stream) return false;
    if (rows[i]->stream_seq != rows[0]->stream_seq + static_cast<std::int64_t>(i)) return false;
  }
  std::int64_t first = rows[0]->stream_seq;
  switch (cmd.expected.kind) {
    case ExpectedVersion::Kind::any: return true;
    case ExpectedVersion::Kind::no_stream: return first == 1 || first == truncate_before;
    case ExpectedVersion::Kind::exists: return first > 1;
    case ExpectedVersion::Kind::exact: return first == cmd.expected.version + 1;
  }
  return false;
}

// ---- The steps of one attempt (GroupCommitter::attempt), in the order it takes them ----

using Versions = std::unordered_map<std::string, std::int64_t>;                  // stream -> version (0: none)
using States = std::unordered_map<std::string, StreamLifecycle>;
using StoredPositions = std::unordered_map<EventId, StoredPosition, EventIdHash>;  // where an id is stored
using GlobalSeqs = std::unordered_map<EventId, std::uint64_t, EventIdHash>;        // read-back positions

// "a,b,c": the hex event ids of the commands `which` of `batch`, for an IN (...) clause.
void append_event_ids(std::string& sql, std::span<const AppendCommand> batch, const std::vector<std::size_t>& which) {
  bool first = true;
  for (auto i : which)
    for (const auto& e : batch[i].events) {
      if (!first) sql += ',';
      first = false;
      store::append_hex(sql, e.id.data(), EventId::kSize);
    }
}

// The stream versions `events` holds for `names` (MAX(stream_seq), one SELECT that reads the last
// entry of each stream in the UNIQUE (stream, stream_seq) index); a stream without events is
// missing from the result.
Versions versions_in_events(store::Connection& conn, const std::vector<std::string_view>& names) {
  Versions versions;
  std::string sql =
      "SELECT stream, MAX(stream_seq) FROM events FORCE INDEX (ux_events_stream_seq) WHERE stream IN (";
  append_list(sql, names, [](std::string& s, std::string_view n) { store::append_quoted(s, n); });
  sql += ") GROUP BY stream";
  auto rs = conn.query(sql);
  while (rs->next()) {
    auto s = rs->getString(1);
    versions[std::string(s.c_str(), s.length())] = rs->getInt64(2);
  }
  return versions;
}

// The states of `names`: their versions from `events` (as versions_in_events) and their
// `streams` rows, in one statement. A scavenge may have removed a stream's last events: its
// version is then at least truncate_before - 1 (the scavenger raises truncate_before first).
States states_in_store(store::Connection& conn, const std::vector<std::string_view>& names) {
  States states;
  std::string in;
  append_list(in, names, [](std::string& s, std::string_view n) { store::append_quoted(s, n); });
  auto rs = conn.query(
      "SELECT stream, MAX(stream_seq), 0, 0, 0, 0, 0, 0 FROM events FORCE INDEX (ux_events_stream_seq) WHERE stream "
      "IN (" + in + ") GROUP BY stream UNION ALL SELECT stream, 0, 1, deleted, tombstoned, truncate_before, "
      "COALESCE(max_count, 0), COALESCE(max_age_us, 0) FROM streams WHERE stream IN (" + in + ")");
  while (rs->next()) {
    auto name = rs->getString(1);
    auto& st = states[std::string(name.c_str(), name.length())];
    if (rs->getInt(3) == 0) {
      st.version = std::max(st.version, rs->getInt64(2));
    } else {
      st.deleted = rs->getInt(4) != 0;
      st.tombstoned = rs->getInt(5) != 0;
      st.truncate_before = rs->getInt64(6);
      st.max_count = rs->getInt64(7);
      st.max_age_us = rs->getInt64(8);
      st.version = std::max(st.version, st.truncate_before - 1);
    }
  }
  return states;
}

// 1. The current state of every stream of the batch: from `cache` (this process is the only
//    writer while it holds the lock), the rest from the store in one SELECT. Should another
//    process write anyway, the UNIQUE (stream, stream_seq) key refuses the insert and the batch is
//    redone.
States read_states(store::Connection& conn, const States& cache, std::span<const AppendCommand> batch) {
  States states;
  std::vector<std::string_view> misses;
  for (const auto& c : batch) {
    if (states.count(c.stream)) continue;
    if (auto it = cache.find(c.stream); it != cache.end()) {
      states.emplace(c.stream, it->second);
    } else {
      states.emplace(c.stream, StreamLifecycle{});
      misses.push_back(c.stream);
    }
  }
  if (!misses.empty())
    for (auto& [name, state] : states_in_store(conn, misses)) states[name] = state;
  return states;
}

// 2. Where the event ids of the commands `which` are stored already, if anywhere (one SELECT).
StoredPositions read_stored_positions(store::Connection& conn, std::span<const AppendCommand> batch,
                                      const std::vector<std::size_t>& which) {
  StoredPositions stored;
  bool any_ids = false;
  for (auto i : which) any_ids = any_ids || !batch[i].events.empty();
  if (!any_ids) return stored;  // lifecycle changes only
  std::string sql = "SELECT event_id, stream, stream_seq, global_seq FROM events WHERE event_id IN (";
  append_event_ids(sql, batch, which);
  sql += ")";
  auto rs = conn.query(sql);
  while (rs->next()) {
    auto id = rs->getString(1);
    auto st = rs->getString(2);
    if (auto parsed = EventId::from_bytes(id.c_str(), id.length()))
      stored[*parsed] = {std::string(st.c_str(), st.length()), rs->getInt64(3), rs->getUInt64(4)};
  }
  return stored;
}

// Whether a command's ids are stored: nullopt when none is; otherwise the outcome (an idempotent
// success when they are where this command would have put them, else a duplicate).
std::optional<AppendOutcome> classify_stored(const AppendCommand& cmd, const StoredPositions& stored,
                                             std::int64_t truncate_before) {
  std::vector<const StoredPosition*> positions;
  for (const auto& e : cmd.events)
    if (auto it = stored.find(e.id); it != stored.end()) positions.push_back(&it->second);
  if (positions.empty()) return std::nullopt;
  AppendOutcome o;
  if (positions.size() < cmd.events.size()) {
    o.error = schema::ErrorCode::DUPLICATE_EVENT;
    o.message = std::to_string(positions.size()) + " of the " + std::to_string(cmd.events.size()) +
                " event ids are already stored: a partial overlap with an earlier append";
  } else if (is_same_append(cmd, positions, truncate_before)) {
    o.idempotent = true;
    o.first_seq = StreamSeq(positions.front()->stream_seq);
    o.last_seq = StreamSeq(positions.back()->stream_seq);
    o.first_global = GlobalSeq(positions.front()->global_seq);
    o.last_global = GlobalSeq(positions.back()->global_seq);
  } else {
    o.error = schema::ErrorCode::DUPLICATE_EVENT;
    o.message = "these event ids are already stored, at other positions (stream '" + positions.front()->stream +
                "', sequence " + std::to_string(positions.front()->stream_seq) + ")";
  }
  return o;
}

// What deciding a batch concluded, command by command (indexes into the batch).
struct Decisions {
  std::vector<AppendOutcome> out;      // one a command: stream positions of the accepted, errors, retries
  std::vector<std::size_t> accepted;   // to insert, in batch order
  std::vector<std::ptrdiff_t> alias;   // >= 0: a resend of that earlier command of this batch
  std::vector<std::size_t> conflicts;  // wrong expected version (perhaps a retry that landed)
  std::size_t rows = 0;                // events to insert
  std::vector<std::string> changed;    // streams whose `streams` row the batch rewrites (final state)

  // The outcomes, where a resend gets its original's as an idempotent success.
  std::vector<AppendOutcome> finish() && {
    for (std::size_t i = 0; i < out.size(); ++i)
      if (alias[i] >= 0) out[i] = out[static_cast<std::size_t>(alias[i])], out[i].idempotent = true;
    return std::move(out);
  }
};

// 3. Decides each command in order against `states` as earlier commands leave them (and
//    advances them; lifecycle changes are applied to them too). `stored` (with the id check) says which ids are stored already.
void set_conflict(const AppendCommand& cmd, const StreamLifecycle& st, AppendOutcome& o) {
  const std::int64_t current = st.current();
  o.error = schema::ErrorCode::WRONG_EXPECTED_VERSION;
  o.current_version = current > 0 ? current : -1;
  o.message = "expected version " + cmd.expected.to_string() + ", but the stream " +
              (current > 0 ? "is at version " + std::to_string(current)
                           : std::string(st.deleted ? "is deleted" : "does not exist"));
}

void mark_changed(Decisions& d, const std::string& stream) {
  if (std::find(d.changed.begin(), d.changed.end(), stream) == d.changed.end()) d.changed.push_back(stream);
}

// A lifecycle change against the stream's state as the earlier commands of the batch left it:
// checks it and applies it to `st`. Repeating a change that is already in effect (a resend after
// a lost reply) succeeds with `idempotent` set and changes nothing.
void decide_change(const AppendCommand& cmd, StreamLifecycle& st, AppendOutcome& o) {
  using Kind = StreamChange::Kind;
  const StreamChange& ch = *cmd.change;
  const std::string name = "stream '" + cmd.stream + "'";
  auto refuse = [&o](schema::ErrorCode code, std::string message) {
    o.error = code;
    o.message = std::move(message);
  };
  if (st.tombstoned) {
    if (ch.kind == Kind::hard_delete) {
      o.idempotent = true;
      o.state = st;
    } else {
      refuse(schema::ErrorCode::NOT_FOUND, name + " was hard-deleted (tombstone): it can never be changed again");
    }
    return;
  }
  if (ch.kind == Kind::soft_delete && st.deleted) {
    o.idempotent = true;
    o.state = st;
    return;
  }
  if ((ch.kind == Kind::soft_delete || ch.kind == Kind::truncate) && !st.exists()) {
    refuse(schema::ErrorCode::NOT_FOUND, name + (st.deleted ? " is deleted" : " does not exist"));
    return;
  }
  if (!expected_matches(cmd.expected, st.current())) {
    set_conflict(cmd, st, o);
    return;
  }
  switch (ch.kind) {
    case Kind::soft_delete:
      st.deleted = true;
      st.truncate_before = std::max(st.truncate_before, st.version + 1);
      break;
    case Kind::hard_delete:
      st.tombstoned = true;
      st.deleted = false;
      st.truncate_before = std::max(st.truncate_before, st.version + 1);
      break;
    case Kind::truncate:
      if (ch.truncate_before > st.version + 1) {
        refuse(schema::ErrorCode::BAD_RANGE, "cannot truncate " + name + " before " +
                                                 std::to_string(ch.truncate_before) + ": it is at version " +
                                                 std::to_string(st.version) + " (at most version + 1)");
        return;
      }
      if (ch.truncate_before <= st.truncate_before) o.idempotent = true;  // (never lowered)
      st.truncate_before = std::max(st.truncate_before, ch.truncate_before);
      break;
    case Kind::set_metadata:
      st.max_count = ch.max_count;
      st.max_age_us = ch.max_age_us;
      break;
  }
  o.state = st;
}

Decisions decide(std::span<const AppendCommand> batch, States& states, const StoredPositions* stored) {
  Decisions d;
  d.out.resize(batch.size());
  d.alias.assign(batch.size(), -1);
  std::unordered_map<EventId, std::size_t, EventIdHash> batch_ids;  // id -> accepted command index
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& cmd = batch[i];
    auto& o = d.out[i];
    StreamLifecycle& st = states[cmd.stream];
    if (cmd.change) {
      decide_change(cmd, st, o);
      if (o.ok() && !o.idempotent) mark_changed(d, cmd.stream);
      continue;
    }
    if (stored) {
      if (auto known = classify_stored(cmd, *stored, st.truncate_before)) {
        o = std::move(*known);
        continue;
      }
    }
    // The same ids earlier in this batch: a resend that met its original here.
    std::size_t in_batch = 0;
    std::ptrdiff_t earlier = -1;
    for (const auto& e : cmd.events)
      if (auto it = batch_ids.find(e.id); it != batch_ids.end()) {
        ++in_batch;
        earlier = static_cast<std::ptrdiff_t>(it->second);
      }
    if (in_batch > 0) {
      const auto& other = batch[static_cast<std::size_t>(earlier)];
      bool same = in_batch == cmd.events.size() && other.stream == cmd.stream &&
                  other.events.size() == cmd.events.size();
      for (std::size_t k = 0; same && k < cmd.events.size(); ++k) same = other.events[k].id == cmd.events[k].id;
      if (same) {
        d.alias[i] = earlier;
      } else {
        o.error = schema::ErrorCode::DUPLICATE_EVENT;
        o.message = "event ids overlap with another append in flight";
      }
      continue;
    }
    if (st.tombstoned) {
      o.error = schema::ErrorCode::NOT_FOUND;
      o.message = "stream '" + cmd.stream + "' was hard-deleted (tombstone): it can never be written again";
      continue;
    }
    const std::int64_t current = st.current();
    if (!expected_matches(cmd.expected, current)) {
      d.conflicts.push_back(i);
      set_conflict(cmd, st, o);
      continue;
    }
    // After a soft delete the stream starts again from its next sequence number (never reused).
    o.first_seq = StreamSeq(st.version + 1);
    o.last_seq = StreamSeq(st.version + static_cast<std::int64_t>(cmd.events.size()));
    st.version = o.last_seq.value();
    if (st.deleted) {
      st.deleted = false;
      mark_changed(d, cmd.stream);
    }
    d.accepted.push_back(i);
    d.rows += cmd.events.size();
    for (const auto& e : cmd.events) batch_ids.emplace(e.id, i);
  }
  return d;
}

// The streams the batch creates: those whose first accepted append starts at sequence 1.
std::vector<std::string_view> new_streams(std::span<const AppendCommand> batch, const Decisions& d) {
  std::vector<std::string_view> created;
  for (auto i : d.accepted)
    if (d.out[i].first_seq.value() == 1) created.push_back(batch[i].stream);
  return created;
}

// The `streams` rows of the streams whose lifecycle the batch changed, in their final state,
// after a tick of the lifecycle clock that they take as their changed_seq (readers keep what
// lifecycles hide and read again the rows changed since the tick they saw: reader README).
// truncate_before is never lowered (a scavenge may have raised it meanwhile).
constexpr int kStreamRowsStatements = 2;  // the clock's tick, the rows
std::string stream_rows_sql(const States& states, const Decisions& d, std::int64_t now) {
  std::string sql =
      "UPDATE lifecycle_clock SET seq = seq + 1 WHERE id = 1; "
      "INSERT INTO streams (stream, updated_at_us, deleted, tombstoned, truncate_before, max_count, max_age_us, "
      "changed_seq) VALUES ";
  append_list(sql, d.changed, [&](std::string& s, const std::string& name) {
    const StreamLifecycle& st = states.at(name);
    auto or_null = [](std::int64_t v) { return v > 0 ? std::to_string(v) : std::string("NULL"); };
    s += '(';
    store::append_quoted(s, name);
    s += ',' + std::to_string(now) + ',' + (st.deleted ? "1" : "0") + ',' + (st.tombstoned ? "1" : "0") + ',' +
         std::to_string(st.truncate_before) + ',' + or_null(st.max_count) + ',' + or_null(st.max_age_us) +
         ",(SELECT seq FROM lifecycle_clock WHERE id = 1))";
  });
  sql +=
      " ON DUPLICATE KEY UPDATE updated_at_us = VALUES(updated_at_us), deleted = VALUES(deleted), "
      "tombstoned = VALUES(tombstoned), truncate_before = GREATEST(truncate_before, VALUES(truncate_before)), "
      "max_count = VALUES(max_count), max_age_us = VALUES(max_age_us), changed_seq = VALUES(changed_seq)";
  return sql;
}

// 4. The batch's one round trip: INSERT events (one row for every accepted event, in batch order);
//    a `streams` row for each stream the batch creates (none in most batches: the stream versions
//    live in `events`); the rows of the streams whose lifecycle changed (stream_rows_sql); SELECT LAST_INSERT_ID(); COMMIT (not when the ids are read back: that
//    SELECT comes first). A failure in any statement stops the rest, and the transaction is rolled
//    back by the caller; a lost connection leaves the outcome unknown.
std::string batch_script(std::span<const AppendCommand> batch, const Decisions& d,
                         const std::vector<std::string_view>& created_streams, const States& states,
                         std::int64_t created, bool read_back_ids) {
  std::string sql;
  sql.reserve(1024 + d.rows * 160);
  sql +=
      "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
      "payload_format) VALUES ";
  bool first_row = true;
  for (auto i : d.accepted) {
    const auto& cmd = batch[i];
    std::int64_t seq = d.out[i].first_seq.value();
    for (const auto& e : cmd.events) {
      if (!first_row) sql += ',';
      first_row = false;
      sql += '(';
      store::append_hex(sql, e.id.data(), EventId::kSize);
      sql += ',';
      store::append_quoted(sql, cmd.stream);
      sql += ',' + std::to_string(seq++) + ',';
      store::append_quoted(sql, category_of(cmd.stream));
      sql += ',';
      store::append_quoted(sql, e.type);
      sql += ',' + std::to_string(created) + ',';
      store::append_hex(sql, e.metadata.data(), e.metadata.size());
      sql += ',';
      store::append_hex(sql, e.payload.data(), e.payload.size());
      sql += e.format == PayloadFormat::json ? ",1)" : ",0)";
    }
  }
  if (!created_streams.empty()) {
    // (A row may exist already for a stream without events: left as it is.)
    sql += "; INSERT INTO streams (stream, updated_at_us) VALUES ";
    append_list(sql, created_streams, [created](std::string& s, std::string_view name) {
      s += '(';
      store::append_quoted(s, name);
      s += ',' + std::to_string(created) + ')';
    });
    sql += " ON DUPLICATE KEY UPDATE stream = stream";
  }
  if (!d.changed.empty()) sql += "; " + stream_rows_sql(states, d, created);
  sql += "; SELECT LAST_INSERT_ID()";
  if (!read_back_ids) sql += "; COMMIT";
  return sql;
}

// With autoinc mode 2: the global positions the insert gave the accepted events (one SELECT).
GlobalSeqs read_global_seqs(store::Connection& conn, std::span<const AppendCommand> batch, const Decisions& d) {
  GlobalSeqs read_back;
  std::string q = "SELECT event_id, global_seq FROM events WHERE event_id IN (";
  append_event_ids(q, batch, d.accepted);
  q += ")";
  auto rs = conn.query(q);
  while (rs->next()) {
    auto id = rs->getString(1);
    if (auto parsed = EventId::from_bytes(id.c_str(), id.length())) read_back[*parsed] = rs->getUInt64(2);
  }
  return read_back;
}

// 5. Global positions for the replies of the accepted commands, consecutive from `first_global`
//    or, with `read_back`, as read back; and the committed events for the dispatcher.
void assign_positions(std::span<const AppendCommand> batch, Decisions& d, std::uint64_t first_global,
                      GlobalSeqs* read_back, std::int64_t created, std::vector<RecordedEvent>* committed) {
  std::uint64_t next = first_global;
  for (auto i : d.accepted) {
    const auto& cmd = batch[i];
    std::int64_t seq = d.out[i].first_seq.value();
    for (std::size_t k = 0; k < cmd.events.size(); ++k) {
      const auto& e = cmd.events[k];
      std::uint64_t g = read_back ? (*read_back)[e.id] : next++;
      if (k == 0) d.out[i].first_global = GlobalSeq(g);
      if (k + 1 == cmd.events.size()) d.out[i].last_global = GlobalSeq(g);
      if (committed)
        committed->push_back(RecordedEvent{GlobalSeq(g), e.id, cmd.stream, StreamSeq(seq), e.type, created, {}, {},
                                           e.format});  // no metadata and payload: see GroupCommitter::commit()
      ++seq;
    }
  }
}

std::vector<std::size_t> all_indexes(std::size_t n) {
  std::vector<std::size_t> all(n);
  for (std::size_t i = 0; i < n; ++i) all[i] = i;
  return all;
}

}  // namespace

std::size_t AppendCommand::payload_bytes() const {
  std::size_t n = 0;
  for (const auto& e : events) n += e.payload.size() + e.metadata.size() + e.type.size() + 64;
  return n;
}

GroupCommitter::GroupCommitter(config::DbOptions db, CommitterOptions options, std::shared_ptr<spdlog::logger> log)
    : db_(std::move(db)), options_(std::move(options)), log_(std::move(log)) {
  db_.multi_statements = true;  // one round trip per batch: see attempt()
  lock_name_ = options_.lock_name.empty() ? "even-writer:" + db_.name : options_.lock_name;
}

void GroupCommitter::sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

bool GroupCommitter::connect() {
  try {
    conn_ = store::Connection::open(db_);
    conn_url_ = conn_->url();
    auto mode = conn_->query_int("SELECT @@innodb_autoinc_lock_mode");
    read_back_ids_ = mode && *mode == 2;
    auto packet = conn_->query_int("SELECT @@max_allowed_packet");
    if (packet) max_statement_bytes_ = static_cast<std::size_t>(*packet);
  } catch (const sql::SQLException& e) {
    // About every 5 s at the default retry interval, so that an outage is visible but not a flood.
    if (unreachable_attempts_++ % 20 == 0)
      log_->warn("cannot reach the store at {}: {} (retrying every {} ms)", db_.url, store::describe(e),
                 options_.reconnect_backoff_max_ms);
    conn_.reset();
    return false;
  }
  if (unreachable_attempts_ > 0)
    log_->info("the store at {} is reachable again (after {} failed attempts)", db_.url, unreachable_attempts_);
  unreachable_attempts_ = 0;
  return true;
}

GroupCommitter::LockAttempt GroupCommitter::try_connect_and_lock(int wait_s) {
  if (!conn_ && !connect()) return LockAttempt::store_unreachable;
  try {
    std::string sql = "SELECT GET_LOCK(";
    store::append_quoted(sql, lock_name_);
    sql += ", " + std::to_string(wait_s) + ")";
    auto got = conn_->query_int(sql);
    if (got && *got == 1) {
      // A new term as master: whatever was cached before may have been overwritten by another
      // writer while this one did not hold the lock.
      version_cache_.clear();
      ensure_autoinc_above_rows();
      semisync_state_ = -1;
      next_semisync_check_ = {};
      next_read_only_check_ = {};
      conn_->begin();
      log_->info("holding the master lock '{}' on {} (autoinc ids {}; max batch {} KiB)", lock_name_, conn_url_,
                 read_back_ids_ ? "read back" : "consecutive", max_batch_event_bytes() >> 10);
      standby_waits_ = 0;
      return LockAttempt::taken;
    }
    if (wait_s > 0 && standby_waits_++ % 30 == 0)
      log_->info("standby: another even-writer holds the master lock '{}'; waiting", lock_name_);
    return LockAttempt::held_elsewhere;
  } catch (const sql::SQLException& e) {
    log_->warn("lost the store connection while asking for the master lock: {}", store::describe(e));
    conn_.reset();
    return LockAttempt::store_unreachable;
  }
}

void GroupCommitter::ensure_autoinc_above_rows() {
  const auto largest = conn_->query_int("SELECT COALESCE(MAX(global_seq), 0) FROM events").value_or(0);
  const auto next = conn_->query_int(
      "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'events'");
  if (!next || *next > largest) return;
  log_->warn("the events table's AUTO_INCREMENT ({}) is not above its largest global_seq ({}) on {} (a promoted "
             "replica?); raising it to {}",
             *next, largest, conn_url_, largest + 1);
  const std::string raise = "ALTER TABLE events AUTO_INCREMENT = " + std::to_string(largest + 1);
  try {
    // ALTER waits for the table's metadata lock behind any open transaction on events (a long
    // read): not for lock_wait_timeout's default of a year.
    conn_->execute("SET SESSION lock_wait_timeout = 5");
    try {
      conn_->execute(raise);
    } catch (const sql::SQLException&) {
      conn_->execute("SET SESSION lock_wait_timeout = DEFAULT");
      throw;
    }
    conn_->execute("SET SESSION lock_wait_timeout = DEFAULT");
  } catch (const sql::SQLException& e) {
    if (store::is_connection_lost(e)) throw;
    // The least-privilege writer user (evenctl store users) has no ALTER: an operator must.
    log_->error("cannot raise AUTO_INCREMENT ({}): run '{}' on {} as an administrator; until then appends "
                "may fail as duplicates",
                store::describe(e), raise, conn_url_);
  }
}

void GroupCommitter::watch_read_only() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_read_only_check_) return;
  next_read_only_check_ = now + std::chrono::seconds(1);
  if (store::is_read_only(*conn_))
    throw sql::SQLException("the server " + conn_url_ + " is read-only (@@read_only = 1): not writing to it", "HY000",
                            kErReadOnly);
}

void GroupCommitter::watch_semisync() {
  if (!options_.semisync) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_semisync_check_) return;
  next_semisync_check_ = now + std::chrono::seconds(1);
  std::unique_ptr<sql::ResultSet> rs;
  try {
    rs = conn_->query(
        "SELECT (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = "
        "'RPL_SEMI_SYNC_MASTER_STATUS'), @@rpl_semi_sync_master_enabled");
  } catch (const sql::SQLException& e) {
    if (store::is_connection_lost(e)) throw;
    // A server without semi-sync (e.g. MySQL without the plugin): the gauge says unknown, batches go on.
    options_.semisync->set(-1);
    if (!semisync_unreadable_logged_)
      log_->warn("cannot read the semi-sync state at {} ({}); not watching it", conn_url_, store::describe(e));
    semisync_unreadable_logged_ = true;
    return;
  }
  if (!rs->next()) return;
  const bool on = !rs->isNull(1) && std::string(rs->getString(1).c_str()) == "ON";
  const bool enabled = rs->getInt(2) != 0;
  const int state = on ? 1 : 0;
  options_.semisync->set(state);
  if (state == semisync_state_) return;
  if (on)
    log_->info("semi-sync replication is on at {}: a commit is acknowledged once a replica has it", conn_url_);
  else if (enabled)
    log_->warn("semi-sync replication fell back to async at {} (no replica acknowledged within "
               "rpl_semi_sync_master_timeout): acknowledged events may exist on the primary alone until a "
               "replica catches up",
               conn_url_);
  else if (semisync_state_ != -1 || store::store_urls(db_.url).size() > 1)
    log_->warn("semi-sync replication is off at {}: a failover may lose acknowledged events", conn_url_);
  semisync_state_ = state;
}

void GroupCommitter::reconnect_or_throw() {
  // After a lost connection the lock is gone with it; retake it without waiting: if another
  // writer took over meanwhile, this one must not write again.
  switch (try_connect_and_lock(0)) {
    case LockAttempt::taken: return;
    case LockAttempt::held_elsewhere:
      conn_.reset();  // no connection, no lock: nothing is written before start() retakes it
      version_cache_.clear();
      throw NotMaster("lost the master lock '" + lock_name_ + "' while reconnecting; another even-writer took over");
    case LockAttempt::store_unreachable: break;
  }
  throw sql::SQLException("store unreachable", "08S01", 2013);
}

bool GroupCommitter::names_stream_seq_key(const sql::SQLException& e) {
  // "Duplicate entry '...' for key 'ux_events_stream_seq'" (MySQL 8 prefixes the table name).
  return std::string_view(e.what()).find("ux_events_stream_seq") != std::string_view::npos;
}

void GroupCommitter::forget_stream_versions(std::span<const AppendCommand> batch) {
  std::vector<std::string_view> names;
  std::unordered_set<std::string_view> seen;
  for (const auto& c : batch)
    if (seen.insert(c.stream).second) names.push_back(c.stream);
  // The truth is in `events`; the cache is what this writer believed. (Committed on its own: a
  // read only, the next attempt begins afresh.)
  conn_->begin();
  const Versions in_events = versions_in_events(*conn_, names);
  conn_->commit();
  for (auto name : names) {
    auto cached = version_cache_.find(std::string(name));
    if (cached == version_cache_.end()) continue;  // read from `events` by the failed attempt itself
    auto stored = in_events.find(std::string(name));
    const std::int64_t in_store = stored == in_events.end() ? 0 : stored->second;
    if (in_store > cached->second.version)
      log_->warn("stream '{}' is at version {} in the events table, but this writer had {}: an insert this writer "
                 "did not make (only even-writer may insert events); dropped the cached version, deciding the "
                 "appends to it again",
                 name, in_store, cached->second.version);
    version_cache_.erase(cached);
  }
}

// One try, in its steps: (1) the streams' versions, (2) with check_ids where the batch's ids are
// stored already, (3) decide each append, asking the store about the ids of a conflict (a retry
// that landed?), (4) one round trip that inserts the events (and a streams row per new stream) and
// commits, (5) the global positions. Throws sql::SQLException with the transaction open; commit()
// decides about redoing it.
std::vector<AppendOutcome> GroupCommitter::attempt(std::span<const AppendCommand> batch,
                                                   std::vector<RecordedEvent>* committed, bool check_ids) {
  conn_->begin();
  watch_read_only();
  watch_semisync();
  if (batch.empty()) {  // the idle probe: one round trip (a COMMIT with nothing to commit sends none)
    conn_->query_int("SELECT 1");
    return {};
  }

  States versions = read_states(*conn_, version_cache_, batch);
  std::optional<StoredPositions> stored;
  if (check_ids) stored = read_stored_positions(*conn_, batch, all_indexes(batch.size()));
  const std::int64_t created = unix_now_us();
  Decisions d = decide(batch, versions, stored ? &*stored : nullptr);

  // A conflict may be a retry of an append that already landed: ask the store about those ids.
  if (!check_ids && !d.conflicts.empty()) {
    const StoredPositions landed = read_stored_positions(*conn_, batch, d.conflicts);
    for (auto i : d.conflicts)
      if (auto known = classify_stored(batch[i], landed, versions[batch[i].stream].truncate_before))
        d.out[i] = std::move(*known);
  }

  if (d.rows == 0) {
    if (!d.changed.empty()) conn_->execute_script(stream_rows_sql(versions, d, created), kStreamRowsStatements, -1);
    conn_->commit();
    remember_versions(versions);
    return std::move(d).finish();
  }

  const auto created_streams = new_streams(batch, d);
  const int select_index =  // LAST_INSERT_ID
      1 + (created_streams.empty() ? 0 : 1) + (d.changed.empty() ? 0 : kStreamRowsStatements);
  const std::uint64_t first_global = static_cast<std::uint64_t>(
      conn_->execute_script(batch_script(batch, d, created_streams, versions, created, read_back_ids_),
                            select_index + (read_back_ids_ ? 1 : 2), select_index)
          .value_or(0));
  GlobalSeqs read_back;
  if (read_back_ids_) {
    read_back = read_global_seqs(*conn_, batch, d);
    conn_->commit();
  }
  remember_versions(versions);  // (decide() advanced the appended streams' versions)

  assign_positions(batch, d, first_global, read_back_ids_ ? &read_back : nullptr, created, committed);
  return std::move(d).finish();
}

void GroupCommitter::remember_versions(const std::unordered_map<std::string, StreamLifecycle>& committed) {
  if (version_cache_.size() + committed.size() > kMaxCachedStreams) version_cache_.clear();
  for (const auto& [name, version] : committed) version_cache_[name] = version;
}

std::vector<AppendOutcome> GroupCommitter::commit_one_by_one(std::span<const AppendCommand> batch,
                                                             std::vector<RecordedEvent>* committed) {
  // A duplicate key survived the id check: another process wrote to the store. Isolate it.
  log_->warn("a batch of {} appends hit a duplicate key despite the id check; committing them one by one",
             batch.size());
  std::vector<AppendOutcome> out;
  out.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    try {
      auto one = attempt(batch.subspan(i, 1), committed, /*check_ids=*/true);
      out.push_back(std::move(one.front()));
    } catch (const sql::SQLException& e) {
      if (e.getErrorCode() != store::kErDupEntry) throw;
      conn_->rollback();
      AppendOutcome o;
      o.error = schema::ErrorCode::DUPLICATE_EVENT;
      o.message = "conflicting write by another process: " + store::describe(e);
      out.push_back(std::move(o));
    }
  }
  return out;
}

}  // namespace even::writer
