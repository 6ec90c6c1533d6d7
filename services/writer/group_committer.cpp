#include "writer/group_committer.h"

#include <chrono>
#include <thread>
#include <unordered_map>
#include <optional>
#include <unordered_set>

namespace even::writer {

namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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
// the idempotent-retry test.
bool is_same_append(const AppendCommand& cmd, const std::vector<const StoredPosition*>& rows) {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i]->stream != cmd.stream) return false;
    if (rows[i]->stream_seq != rows[0]->stream_seq + static_cast<std::int64_t>(i)) return false;
  }
  std::int64_t first = rows[0]->stream_seq;
  switch (cmd.expected.kind) {
    case ExpectedVersion::Kind::any: return true;
    case ExpectedVersion::Kind::no_stream: return first == 1;
    case ExpectedVersion::Kind::exists: return first > 1;
    case ExpectedVersion::Kind::exact: return first == cmd.expected.version + 1;
  }
  return false;
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
      conn_->begin();
      log_->info("holding the master lock '{}' (autoinc ids {}; max batch {} KiB)", lock_name_,
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

void GroupCommitter::repair_stream_versions(std::span<const AppendCommand> batch) {
  std::unordered_set<std::string_view> names;
  for (const auto& c : batch) names.insert(c.stream);
  std::string in;
  append_list(in, names, [](std::string& s, std::string_view n) { store::append_quoted(s, n); });
  conn_->begin();
  // The truth is in `events`; `streams` and the cache are what this writer believed.
  auto rs = conn_->query("SELECT e.stream, e.version, s.version FROM (SELECT stream, MAX(stream_seq) AS version "
                         "FROM events WHERE stream IN (" + in + ") GROUP BY stream) e "
                         "LEFT JOIN streams s ON s.stream = e.stream");
  struct Behind {
    std::string stream;
    std::int64_t in_events;
    std::int64_t in_streams;  // 0: no row
    std::int64_t believed;    // the cached version, else in_streams
  };
  std::vector<Behind> behind;
  while (rs->next()) {
    auto name = rs->getString(1);
    std::int64_t in_events = rs->getInt64(2);
    std::int64_t in_streams = rs->isNull(3) ? 0 : rs->getInt64(3);
    std::string stream(name.c_str(), name.length());
    auto cached = version_cache_.find(stream);
    const std::int64_t believed = cached != version_cache_.end() ? cached->second : in_streams;
    if (in_events > in_streams || believed != in_events)
      behind.push_back({std::move(stream), in_events, in_streams, believed});
  }
  for (const auto& n : names) version_cache_.erase(std::string(n));
  if (behind.empty()) {
    conn_->commit();
    return;
  }
  std::string sql = "INSERT INTO streams (stream, version, updated_at_us) VALUES ";
  const std::int64_t now = now_us();
  append_list(sql, behind, [now](std::string& s, const Behind& b) {
    s += '(';
    store::append_quoted(s, b.stream);
    s += ',' + std::to_string(b.in_events) + ',' + std::to_string(now) + ')';
  });
  sql += " ON DUPLICATE KEY UPDATE version = GREATEST(version, VALUES(version)), updated_at_us = VALUES(updated_at_us)";
  conn_->execute(sql);
  conn_->commit();
  for (const auto& b : behind)
    log_->warn("stream '{}' is at version {} in the events table, but this writer had {} (streams table: {}): an "
               "insert this writer did not make (only even-writer may insert events); dropped the cached version, "
               "repaired the streams table, deciding the appends to it again",
               b.stream, b.in_events, b.believed, b.in_streams);
}

std::vector<AppendOutcome> GroupCommitter::attempt(std::span<const AppendCommand> batch,
                                                   std::vector<RecordedEvent>* committed, bool check_ids) {
  std::vector<AppendOutcome> out(batch.size());
  conn_->begin();
  if (batch.empty()) {  // the idle probe: one round trip (a COMMIT with nothing to commit sends none)
    conn_->query_int("SELECT 1");
    return out;
  }

  // 1. Current versions: from the cache (this process is the only writer while it holds the
  //    lock), the rest from the store. 0 means "no such stream". Should another process write
  //    anyway, the UNIQUE (stream, stream_seq) key refuses the insert and the batch is redone.
  std::unordered_map<std::string, std::int64_t> versions;
  {
    std::vector<std::string_view> misses;
    for (const auto& c : batch) {
      if (versions.count(c.stream)) continue;
      if (auto it = version_cache_.find(c.stream); it != version_cache_.end()) {
        versions.emplace(c.stream, it->second);
      } else {
        versions.emplace(c.stream, 0);
        misses.push_back(c.stream);
      }
    }
    if (!misses.empty()) {
      std::string sql = "SELECT stream, version FROM streams WHERE stream IN (";
      append_list(sql, misses, [](std::string& s, std::string_view n) { store::append_quoted(s, n); });
      sql += ")";
      auto rs = conn_->query(sql);
      while (rs->next()) {
        auto s = rs->getString(1);
        versions[std::string(s.c_str(), s.length())] = rs->getInt64(2);
      }
    }
  }

  // 2. With check_ids: where each event id is stored already, if anywhere.
  std::unordered_map<EventId, StoredPosition, EventIdHash> stored;
  auto look_up_ids = [&](const std::vector<std::size_t>& which) {
    std::string sql = "SELECT event_id, stream, stream_seq, global_seq FROM events WHERE event_id IN (";
    bool first = true;
    for (auto i : which)
      for (const auto& e : batch[i].events) {
        if (!first) sql += ',';
        first = false;
        store::append_hex(sql, e.id.data(), EventId::kSize);
      }
    sql += ")";
    auto rs = conn_->query(sql);
    while (rs->next()) {
      auto id = rs->getString(1);
      auto st = rs->getString(2);
      if (auto parsed = EventId::from_bytes(id.c_str(), id.length()))
        stored[*parsed] = {std::string(st.c_str(), st.length()), rs->getInt64(3), rs->getUInt64(4)};
    }
  };
  if (check_ids) {
    std::vector<std::size_t> all(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) all[i] = i;
    look_up_ids(all);
  }
  // Whether a command's ids are stored: nullopt when none is; otherwise the outcome (an
  // idempotent success when they are where this command would have put them, else a duplicate).
  auto classify_stored = [&](const AppendCommand& cmd) -> std::optional<AppendOutcome> {
    std::vector<const StoredPosition*> positions;
    for (const auto& e : cmd.events)
      if (auto it = stored.find(e.id); it != stored.end()) positions.push_back(&it->second);
    if (positions.empty()) return std::nullopt;
    AppendOutcome o;
    if (positions.size() < cmd.events.size()) {
      o.error = schema::ErrorCode::DUPLICATE_EVENT;
      o.message = std::to_string(positions.size()) + " of the " + std::to_string(cmd.events.size()) +
                  " event ids are already stored: a partial overlap with an earlier append";
    } else if (is_same_append(cmd, positions)) {
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
  };

  // 3. Decide each command in order against the versions as earlier commands leave them.
  std::unordered_map<EventId, std::size_t, EventIdHash> batch_ids;  // id -> accepted command index
  std::vector<std::ptrdiff_t> alias(batch.size(), -1);                // retry of an earlier command here
  std::vector<bool> accepted(batch.size(), false);
  std::vector<std::size_t> conflicts;
  std::size_t rows = 0;
  const std::int64_t created = now_us();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& cmd = batch[i];
    auto& o = out[i];
    if (check_ids) {
      if (auto known = classify_stored(cmd)) {
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
        alias[i] = earlier;
      } else {
        o.error = schema::ErrorCode::DUPLICATE_EVENT;
        o.message = "event ids overlap with another append in flight";
      }
      continue;
    }
    const std::int64_t current = versions[cmd.stream];
    if (!expected_matches(cmd.expected, current)) {
      conflicts.push_back(i);
      o.error = schema::ErrorCode::WRONG_EXPECTED_VERSION;
      o.current_version = current > 0 ? current : -1;
      o.message = "expected version " + cmd.expected.to_string() + ", but the stream " +
                  (current > 0 ? "is at version " + std::to_string(current) : std::string("does not exist"));
      continue;
    }
    o.first_seq = StreamSeq(current + 1);
    o.last_seq = StreamSeq(current + static_cast<std::int64_t>(cmd.events.size()));
    versions[cmd.stream] = o.last_seq.value();
    accepted[i] = true;
    rows += cmd.events.size();
    for (const auto& e : cmd.events) batch_ids.emplace(e.id, i);
  }

  // A conflict may be a retry of an append that already landed: ask the store about those ids.
  if (!check_ids && !conflicts.empty()) {
    look_up_ids(conflicts);
    for (auto i : conflicts)
      if (auto known = classify_stored(batch[i])) out[i] = std::move(*known);
  }

  if (rows == 0) {
    conn_->commit();
    for (std::size_t i = 0; i < batch.size(); ++i)
      if (alias[i] >= 0) out[i] = out[static_cast<std::size_t>(alias[i])], out[i].idempotent = true;
    return out;
  }

  // 4. One multi-row INSERT for every accepted event, in batch order.
  std::string sql;
  sql.reserve(1024 + rows * 160);
  sql +=
      "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
      "payload_format) VALUES ";
  bool first_row = true;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!accepted[i]) continue;
    const auto& cmd = batch[i];
    std::int64_t seq = out[i].first_seq.value();
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
  // 5. The streams' new versions, in the same round trip: INSERT events; INSERT streams;
  //    SELECT LAST_INSERT_ID(); COMMIT. A failure in any statement stops the rest, and the
  //    transaction is rolled back by the caller; a lost connection leaves the outcome unknown.
  std::unordered_map<std::string_view, std::int64_t> touched;
  for (std::size_t i = 0; i < batch.size(); ++i)
    if (accepted[i]) touched[batch[i].stream] = out[i].last_seq.value();
  sql += "; INSERT INTO streams (stream, version, updated_at_us) VALUES ";
  bool first_stream = true;
  for (const auto& [name, version] : touched) {
    if (!first_stream) sql += ',';
    first_stream = false;
    sql += '(';
    store::append_quoted(sql, name);
    sql += ',' + std::to_string(version) + ',' + std::to_string(created) + ')';
  }
  sql += " ON DUPLICATE KEY UPDATE version = VALUES(version), updated_at_us = VALUES(updated_at_us)";
  sql += "; SELECT LAST_INSERT_ID()";
  if (!read_back_ids_) sql += "; COMMIT";
  const std::uint64_t first_global =
      static_cast<std::uint64_t>(conn_->execute_script(sql, read_back_ids_ ? 3 : 4, 2).value_or(0));

  std::unordered_map<EventId, std::uint64_t, EventIdHash> read_back;
  if (read_back_ids_) {
    std::string q = "SELECT event_id, global_seq FROM events WHERE event_id IN (";
    bool first = true;
    for (std::size_t i = 0; i < batch.size(); ++i)
      if (accepted[i])
        for (const auto& e : batch[i].events) {
          if (!first) q += ',';
          first = false;
          store::append_hex(q, e.id.data(), EventId::kSize);
        }
    q += ")";
    auto rs = conn_->query(q);
    while (rs->next()) {
      auto id = rs->getString(1);
      if (auto parsed = EventId::from_bytes(id.c_str(), id.length())) read_back[*parsed] = rs->getUInt64(2);
    }
    conn_->commit();
  }
  if (version_cache_.size() + touched.size() > kMaxCachedStreams) version_cache_.clear();
  for (const auto& [name, version] : touched) version_cache_[std::string(name)] = version;

  // 6. Positions for the replies and the committed events for the dispatcher.
  std::uint64_t next = first_global;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!accepted[i]) continue;
    const auto& cmd = batch[i];
    std::int64_t seq = out[i].first_seq.value();
    for (std::size_t k = 0; k < cmd.events.size(); ++k) {
      const auto& e = cmd.events[k];
      std::uint64_t g = read_back_ids_ ? read_back[e.id] : next++;
      if (k == 0) out[i].first_global = GlobalSeq(g);
      if (k + 1 == cmd.events.size()) out[i].last_global = GlobalSeq(g);
      if (committed)
        committed->push_back(RecordedEvent{GlobalSeq(g), e.id, cmd.stream, StreamSeq(seq), e.type, created, {}, {},
                                           e.format});  // no metadata and payload: see commit()
      ++seq;
    }
  }
  for (std::size_t i = 0; i < batch.size(); ++i)
    if (alias[i] >= 0) out[i] = out[static_cast<std::size_t>(alias[i])], out[i].idempotent = true;
  return out;
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
