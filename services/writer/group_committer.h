// GroupCommitter: commits batches of appends to the event store in one transaction each, on one
// connection that holds the master lock (GET_LOCK), so AUTO_INCREMENT order is commit order.
//
// Owns one MySQL connection; not thread-safe: the writer's service thread is its only user.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <spdlog/logger.h>

#include "even/common/config.h"
#include "even/common/store/events.h"
#include "even/common/store/mysql.h"
#include "even/common/types.h"
#include "even/schemas/common.capnp.h"

namespace even::writer {

// A validated append, copied out of its request so the request frame can be released.
struct AppendCommand {
  struct Event {
    EventId id;
    std::string type;
    std::string metadata;
    std::string payload;
    schema::PayloadFormat format = schema::PayloadFormat::BINARY;
  };
  std::string stream;
  ExpectedVersion expected;
  std::vector<Event> events;

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

  bool ok() const { return error == schema::ErrorCode::NONE; }
};

// Raised when this process is no longer (or never became) the write master.
class NotMaster : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CommitterOptions {
  std::string lock_name;          // default: "even-writer:<db name>"
  bool standby = true;            // wait for the master lock (true) or fail at once (false)
  int reconnect_backoff_ms = 200; // first retry delay after a lost connection, doubled up to 5 s
};

class GroupCommitter {
 public:
  GroupCommitter(config::DbOptions db, CommitterOptions options, std::shared_ptr<spdlog::logger> log);

  // Connects and takes the master lock. In standby mode waits for it, checking `stop` (returns
  // false when stop() became true first); otherwise throws NotMaster when another writer holds it.
  template <typename StopFn>
  bool start(StopFn stop) {
    for (;;) {
      if (stop()) return false;
      if (try_connect_and_lock(options_.standby ? 1 : 0)) return true;
      if (!options_.standby) throw NotMaster("another even-writer holds the master lock '" + lock_name_ + "'");
    }
  }

  // Commits `batch` (any mix of expected versions, any number of streams) and returns one outcome
  // per command, in order. A command's conflict, duplicate or idempotent retry concerns it alone.
  // The accepted events, with their global positions, are appended to `committed`.
  //
  // Returns only once the store has said whether the batch landed: when the connection drops
  // (even during COMMIT), it reconnects, retakes the master lock and replays the batch with the
  // idempotency check, which finds what landed. Throws NotMaster if the lock was taken meanwhile,
  // and rethrows the store error only when `give_up()` (e.g. shutdown) says so.
  template <typename StopFn>
  std::vector<AppendOutcome> commit(std::span<const AppendCommand> batch, std::vector<store::StoredEvent>* committed,
                                    StopFn give_up) {
    bool check_ids = false;
    int backoff = options_.reconnect_backoff_ms;
    for (;;) {
      try {
        if (!conn_) reconnect_or_throw();
        return attempt(batch, committed, check_ids);
      } catch (const sql::SQLException& e) {
        version_cache_.clear();  // whatever this batch assumed is undone
        if (e.getErrorCode() == store::kErDupEntry && !check_ids) {
          // Some event id is stored already: redo with the per-event idempotency check.
          conn_->rollback();
          check_ids = true;
          continue;
        }
        if (!store::is_connection_lost(e) && conn_ && conn_->valid()) {
          conn_->rollback();
          if (e.getErrorCode() == store::kErDupEntry) return commit_one_by_one(batch, committed);
          throw;
        }
        version_cache_.clear();
        log_->warn("store connection lost during a batch of {} appends ({}); the outcome is unknown until "
                   "the store is asked again",
                   batch.size(), store::describe(e));
        conn_.reset();
        check_ids = true;  // sticky: the replay asks the store what landed before writing anything

        if (give_up()) throw;
        sleep_ms(backoff);
        backoff = std::min(backoff * 2, 5000);
      }
    }
  }

  const std::string& lock_name() const { return lock_name_; }
  // The store's autoinc mode 2 ("interleaved") does not promise consecutive ids for a multi-row
  // insert; the committer then reads ids back.
  bool reads_back_ids() const { return read_back_ids_; }
  // The largest total of event bytes (payload + metadata) one batch may carry so that its INSERT
  // fits the server's max_allowed_packet (hex encoding doubles the bytes).
  std::size_t max_batch_event_bytes() const { return max_statement_bytes_ / 2 - (256u << 10); }

 private:
  bool try_connect_and_lock(int wait_s);
  void reconnect_or_throw();
  std::vector<AppendOutcome> attempt(std::span<const AppendCommand> batch, std::vector<store::StoredEvent>* committed,
                                     bool check_ids);
  std::vector<AppendOutcome> commit_one_by_one(std::span<const AppendCommand> batch,
                                               std::vector<store::StoredEvent>* committed);
  static void sleep_ms(int ms);

  config::DbOptions db_;
  CommitterOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::string lock_name_;
  std::unique_ptr<store::Connection> conn_;
  bool read_back_ids_ = false;
  std::size_t max_statement_bytes_ = 16u << 20;  // from the server's max_allowed_packet
  // Stream versions as committed by this process (0: known not to exist). Valid only while the
  // master lock is held; cleared on any store error and when it grows past kMaxCachedStreams.
  std::unordered_map<std::string, std::int64_t> version_cache_;
  static constexpr std::size_t kMaxCachedStreams = 1'000'000;
};

}  // namespace even::writer
