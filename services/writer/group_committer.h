// GroupCommitter: commits batches of appends to the event store in one transaction each, on one
// connection that holds the master lock (GET_LOCK), so AUTO_INCREMENT order is commit order.
//
// Owns one MySQL connection; not thread-safe: the writer's service thread is its only user.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <spdlog/logger.h>

#include "even/common/config.h"
#include "even/common/event.h"
#include "even/common/metrics.h"
#include "even/common/store/mysql.h"
#include "even/common/store/streams.h"
#include "even/common/types.h"
#include "even/schemas/common.capnp.h"

namespace even::writer {

// What the writer knows of a stream (even/common/store/streams.h): its `streams` row and its
// version. Cached per stream while this writer holds the master lock (GroupCommitter::version_cache_).
using store::StreamLifecycle;

// A change of a stream's lifecycle (schemas/writer.capnp), decided in order with the appends.
struct StreamChange {
  enum class Kind { soft_delete, hard_delete, truncate, set_metadata };
  Kind kind = Kind::soft_delete;
  std::int64_t truncate_before = 0;  // truncate: >= 1
  std::int64_t max_count = 0;        // set_metadata: >= 0 (0: no limit)
  std::int64_t max_age_us = 0;       // set_metadata: >= 0 (0: no limit)
};

// A validated append (or, with `change`, a lifecycle change and no events), copied out of its
// request so the request frame can be released.
struct AppendCommand {
  std::string stream;
  ExpectedVersion expected;
  std::vector<NewEvent> events;
  std::optional<StreamChange> change;

  std::size_t payload_bytes() const;
};

// The outcome of one append: positions, or an error that concerns this append alone.
struct AppendOutcome {
  schema::ErrorCode error = schema::ErrorCode::NONE;
  std::string message;
  std::int64_t current_version = -1;  // for WRONG_EXPECTED_VERSION; -1: the stream does not exist
  StreamSeq first_seq, last_seq;
  GlobalSeq first_global, last_global;
  bool idempotent = false;
  StreamLifecycle state;  // for a lifecycle change: the stream after it

  bool ok() const { return error == schema::ErrorCode::NONE; }
};

// Raised when this process is no longer (or never became) the write master.
// ER_OPTION_PREVENTS_STATEMENT: the server runs with --read-only (a replica, or a demoted primary).
inline constexpr int kErReadOnly = 1290;

class NotMaster : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CommitterOptions {
  std::string lock_name;  // default: "even-writer:<db name>"
  // Wait for the master lock (true) or fail at once with NotMaster (false). The writer service
  // also uses it to decide what a master that lost the lock does: wait as a standby again (true)
  // or exit (false).
  bool standby = true;
  // Delay between attempts to reach the store: the first retry after a lost connection waits
  // reconnect_backoff_ms, doubled up to reconnect_backoff_max_ms, which is also the standby's
  // retry interval while the store is unreachable. Small, so that appends resume well within a
  // second of the store being back (connecting to a stopped server fails at once).
  int reconnect_backoff_ms = 50;
  int reconnect_backoff_max_ms = 250;
  // How long a standby whose store was unreachable waits, once it is back, before asking for the
  // lock (see start()). Longer than the master's reconnect interval; it delays a takeover only
  // when the master died together with the store connections.
  int standby_grace_ms = 1000;
  // Counted where the store connection is lost while master (null: not counted): the reconnects,
  // and the batches whose outcome became unknown and are replayed with the idempotency check.
  // Incremented on the thread that calls commit(); must outlive the committer.
  metrics::Counter* reconnects = nullptr;
  metrics::Counter* unknown_outcome_replays = nullptr;
  // Set about once a second from the store's Rpl_semi_sync_master_status: 1 while commits wait
  // for a replica (semi-sync on), 0 when they do not (semi-sync off or fallen back to async after
  // rpl_semi_sync_master_timeout), -1 when the server does not tell. Null: not watched.
  metrics::Gauge* semisync = nullptr;
};

class GroupCommitter {
 public:
  GroupCommitter(config::DbOptions db, CommitterOptions options, std::shared_ptr<spdlog::logger> log);

  // Connects and takes the master lock: the start of a term as master, with an empty version
  // cache. Waits while the store is unreachable. In standby mode also waits while another writer
  // holds the lock; otherwise throws NotMaster then. Checks `stop` about once a second and returns
  // false when it became true first.
  //
  // After the store was unreachable, a standby waits standby_grace_ms once it is reachable again
  // before it asks for the lock: a master that only lost its connection (a store restart) retakes
  // its own lock first and keeps its clients.
  //
  // Also the way back after NotMaster: commit() left no connection behind, so a demoted master
  // calls start() again and waits as a standby.
  template <typename StopFn>
  bool start(StopFn stop) {
    bool after_outage = false;
    for (;;) {
      if (stop()) return false;
      if (!conn_ && !connect()) {
        after_outage = true;
        sleep_ms(options_.reconnect_backoff_max_ms);
        continue;
      }
      if (after_outage && options_.standby) {
        after_outage = false;
        for (int waited = 0; waited < options_.standby_grace_ms && !stop(); waited += 100)
          sleep_ms(std::min(100, options_.standby_grace_ms - waited));
        continue;  // (the connection may be gone again)
      }
      switch (try_connect_and_lock(options_.standby ? 1 : 0)) {
        case LockAttempt::taken: return true;
        case LockAttempt::held_elsewhere:
          if (!options_.standby) throw NotMaster("another even-writer holds the master lock '" + lock_name_ + "'");
          break;  // GET_LOCK waited a second already
        case LockAttempt::store_unreachable: after_outage = true; break;
      }
    }
  }

  // Commits `batch` (any mix of expected versions, any number of streams) and returns one outcome
  // per command, in order. A command's conflict, duplicate or idempotent retry concerns it alone.
  // The accepted events, with their global positions, are appended to `committed`. An empty
  // batch commits nothing and only checks that this writer is still master (reconnecting and
  // retaking the lock if its connection was lost): the writer's idle probe.
  //
  // Returns only once the store has said whether the batch landed: when the connection drops
  // (even during COMMIT), it reconnects, retakes the master lock and replays the batch with the
  // idempotency check, which finds what landed. Throws NotMaster if the lock was taken meanwhile
  // (the connection is dropped then: nothing more is written until start() retakes the lock),
  // and rethrows the store error only when `give_up()` (e.g. shutdown) says so.
  //
  // `committed` (optional) receives the events written, in global order, for the feed to the
  // dispatcher: position, id, stream, type, time and format, but not metadata and payload (the feed
  // carries claims; the dispatcher publishes the store's rows, services/dispatcher/README.md "Feed
  // trust"), so a payload is not copied again for it.
  //
  // A duplicate key is resolved in at most two redos: with the per-event id check (an idempotent
  // retry, or a duplicate id), and with the batch's stream versions dropped from the cache and
  // re-read from `events` (a (stream, stream_seq) taken by an insert this writer did not make;
  // logged as a warning naming the stream). A duplicate after both isolates the requests one by one.
  template <typename StopFn>
  std::vector<AppendOutcome> commit(std::span<const AppendCommand> batch, std::vector<RecordedEvent>* committed,
                                    StopFn give_up) {
    bool check_ids = false;
    bool repair_pending = false;  // re-read the versions from `events` before the next attempt
    bool repaired = false;
    int backoff = options_.reconnect_backoff_ms;
    for (;;) {
      try {
        if (!conn_) reconnect_or_throw();
        if (repair_pending) {
          forget_stream_versions(batch);
          repair_pending = false;
        }
        return attempt(batch, committed, check_ids);
      } catch (const sql::SQLException& e) {
        if (conn_ && e.getErrorCode() == store::kErDupEntry) {  // the server answered: still connected
          conn_->rollback();
          if (check_ids && repaired) return commit_one_by_one(batch, committed);
          // First the cheap fix for the common case (a resent append), unless the key says that
          // a stream sequence is taken; then the versions.
          if (check_ids || names_stream_seq_key(e)) repair_pending = repaired = true;
          check_ids = true;
          continue;
        }
        version_cache_.clear();  // the lock may be gone with the connection: another writer may write
        // A read-only server was demoted (a replica was promoted): the master role goes with it;
        // reconnecting finds the writable server of the url list.
        const bool demoted = e.getErrorCode() == kErReadOnly;
        if (conn_ && !demoted && !store::is_connection_lost(e) && conn_->valid()) {
          conn_->rollback();
          throw;
        }
        if (conn_ && demoted) {
          conn_->rollback();
          log_->warn("{} is read-only ({}); leaving it and the master lock held there, looking for the writable "
                     "server{}",
                     conn_url_, store::describe(e), batch.empty() ? "" : "; the batch is replayed there");
        } else if (conn_ && batch.empty())  // (failed reconnects are logged by connect())
          log_->warn("store connection lost ({}); reconnecting and retaking the master lock", store::describe(e));
        else if (conn_)
          log_->warn("store connection lost during a batch of {} appends ({}); the outcome is unknown until "
                     "the store is asked again",
                     batch.size(), store::describe(e));
        if (conn_) {
          if (options_.reconnects) options_.reconnects->inc();
          if (options_.unknown_outcome_replays && !batch.empty()) options_.unknown_outcome_replays->inc();
        }
        conn_.reset();
        check_ids = true;  // sticky: the replay asks the store what landed before writing anything

        if (give_up()) throw;
        sleep_ms(backoff);
        backoff = std::min(backoff * 2, options_.reconnect_backoff_max_ms);
      }
    }
  }

  const std::string& lock_name() const { return lock_name_; }
  // For status reports while start() waits (same thread): another writer holds the lock (this one
  // is a standby); the last attempt to reach the store failed.
  bool waiting_as_standby() const { return standby_waits_ > 0; }
  bool store_unreachable() const { return unreachable_attempts_ > 0; }
  // The store's autoinc mode 2 ("interleaved") does not promise consecutive ids for a multi-row
  // insert; the committer then reads ids back.
  bool reads_back_ids() const { return read_back_ids_; }
  // The largest total of event bytes (payload + metadata) one batch may carry so that its INSERT
  // fits the server's max_allowed_packet (hex encoding doubles the bytes).
  std::size_t max_batch_event_bytes() const { return max_statement_bytes_ / 2 - (256u << 10); }

 private:
  enum class LockAttempt { taken, held_elsewhere, store_unreachable };
  // Opens the connection (there is none); false when the store is unreachable. Logs an
  // unreachable store at most every few seconds, and when it is reachable again.
  bool connect();
  // Connects (when there is no connection) and asks for the master lock, waiting up to wait_s.
  // On `taken` the version cache is empty: a new term begins.
  LockAttempt try_connect_and_lock(int wait_s);
  void reconnect_or_throw();
  // Drops the batch's streams from the version cache, so that the next attempt reads them from
  // `events` (MAX(stream_seq)), and logs a warning for each one whose cached version an insert
  // this writer did not make left behind.
  void forget_stream_versions(std::span<const AppendCommand> batch);
  // Whether a duplicate-key error names the UNIQUE (stream, stream_seq) key.
  static bool names_stream_seq_key(const sql::SQLException& e);
  std::vector<AppendOutcome> attempt(std::span<const AppendCommand> batch, std::vector<RecordedEvent>* committed,
                                     bool check_ids);
  std::vector<AppendOutcome> commit_one_by_one(std::span<const AppendCommand> batch,
                                               std::vector<RecordedEvent>* committed);
  // At the start of a term: raises the events table's AUTO_INCREMENT above its largest global_seq
  // when it is not (a promoted replica whose counter lags the rows it applied), so that no id is
  // given twice; logged (an error naming the statement when this user may not ALTER).
  void ensure_autoinc_above_rows();
  // About once a second: reads Rpl_semi_sync_master_status into options_.semisync and logs when
  // semi-sync fell back to async (an acknowledged commit may then exist on the primary alone) and
  // when it is back.
  void watch_semisync();
  // About once a second (and before the first batch of a term): throws SQLException kErReadOnly
  // when the server is read-only. A user with SUPER (root) is not stopped by read_only, so this
  // is what keeps a writer off a demoted primary.
  void watch_read_only();
  // Caches the stream states a committed attempt read and advanced.
  void remember_versions(const std::unordered_map<std::string, StreamLifecycle>& committed);
  static void sleep_ms(int ms);

  config::DbOptions db_;
  CommitterOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::string lock_name_;
  std::unique_ptr<store::Connection> conn_;
  std::string conn_url_;  // the server conn_ is connected to (one of db_.url's list), for logs
  bool read_back_ids_ = false;
  std::size_t max_statement_bytes_ = 16u << 20;  // from the server's max_allowed_packet
  int unreachable_attempts_ = 0;  // failed connects since the store was last reached (for the log)
  int standby_waits_ = 0;         // lock requests refused since this writer last held it (for the log)
  std::chrono::steady_clock::time_point next_semisync_check_{};
  std::chrono::steady_clock::time_point next_read_only_check_{};  // {}: before the next batch
  bool semisync_unreadable_logged_ = false;
  int semisync_state_ = -1;       // last Rpl_semi_sync_master_status seen: 1 on, 0 off, -1 not yet read
  // Stream versions (0: known not to exist), read from `events` (MAX(stream_seq)) on a miss and
  // advanced by this process's commits; `events` is the only place they are stored, and the
  // UNIQUE (stream, stream_seq) key guards them. Valid only while the master lock is held: emptied
  // when a term as master begins (a standby that takes over starts empty), on a lost connection or any other
  // store error but a duplicate key (whose streams forget_stream_versions drops), and when it
  // grows past kMaxCachedStreams.
  // The lifecycle columns of `streams` are cached with the version (only this writer changes them;
  // a scavenge only raises truncate_before up to what is already hidden).
  std::unordered_map<std::string, StreamLifecycle> version_cache_;
  static constexpr std::size_t kMaxCachedStreams = 1'000'000;
};

}  // namespace even::writer
