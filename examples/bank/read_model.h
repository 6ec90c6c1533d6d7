// The bank's read model: balances and transfers in a query database (MariaDB), kept by a C++
// projection of the "account" and "transfer" categories. Each batch of events is applied in one
// transaction together with the projection's checkpoint (table bank_checkpoint), so a crash never
// applies an event twice or skips one.
//
// Two ways to run it:
// - catch_up(client): reads history through the reader (read_all from the checkpoint) up to the
//   store's head and returns; what the CLI's `bank balance` does before answering.
// - LiveProjection: a CatchUpSubscription (history, then the dispatcher's live feed) whose events
//   are applied by a second thread in batches (up to 500 events or what arrived within a few
//   milliseconds per transaction).
//
// The statements per event are a pure function (statements_for), so the same projection can be
// hosted by even-projector's runner.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "even/client/client.h"
#include "even/common/config.h"
#include "even/common/store/mysql.h"

namespace bank {

struct AccountRow {
  std::string id;
  std::string owner;
  std::int64_t balance = 0;
  std::int64_t version = 0;          // stream version of the last event applied
  std::uint64_t last_global_seq = 0;
  std::string last_correlation_id;   // of the last event applied
};

struct TransferRow {
  std::string id, from, to, status, reason, correlation_id;
  std::int64_t amount = 0;
  bool refunded = false;
};

// The events the projection consumes.
even::client::Filter read_model_filter();
// The SQL that applies `e` to the read model (empty for events it ignores).
std::vector<std::string> statements_for(const even::client::RecordedEvent& e);

// The query database. Not thread-safe, except where noted: one thread applies, and queries use
// their own connection (so give each thread its own BankReadModel, or use LiveProjection).
class BankReadModel {
 public:
  // Creates the database `query_db.name` and its tables if missing.
  explicit BankReadModel(const even::config::DbOptions& query_db);
  ~BankReadModel();

  // Applies `events` and moves the checkpoint to `position` (>= the last one's global seq), in one
  // transaction.
  void apply(const std::vector<even::client::RecordedEvent>& events, even::GlobalSeq position);
  // Applies everything stored after the checkpoint, up to the head seen at the start. Returns the
  // checkpoint after it.
  even::GlobalSeq catch_up(even::client::Client& client);
  even::GlobalSeq checkpoint();
  // Drops the tables' content and the checkpoint (rebuild: catch_up replays everything).
  void reset();

  std::optional<AccountRow> account(const std::string& id);
  std::vector<AccountRow> accounts(std::size_t limit = SIZE_MAX);
  std::optional<TransferRow> transfer(const std::string& id);
  // Number of transfers per status ("completed", "failed", ...), and the sum of all balances.
  std::vector<std::pair<std::string, std::int64_t>> transfer_counts();
  std::int64_t total_balance();

 private:
  std::unique_ptr<even::store::Connection> conn_;
};

// The projection running live. Owns two threads: the subscription's (handler: queue an event) and
// the applier (takes the queue in batches into BankReadModel::apply). The Client must outlive it.
class LiveProjection {
 public:
  LiveProjection(even::client::Client& client, const even::config::DbOptions& query_db);
  ~LiveProjection();  // stops both threads; what was queued and not applied is read again next time
  // Waits until every event <= `position` was applied (or the timeout); returns whether it was.
  bool wait_for(even::GlobalSeq position, std::chrono::milliseconds timeout);
  even::GlobalSeq applied() const { return even::GlobalSeq(applied_.load()); }
  // The subscription or the applier failed (rethrows its error); nothing when running fine.
  void check() const;

 private:
  void apply_loop();

  BankReadModel model_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<even::client::RecordedEvent> queue_;  // guarded by mu_
  bool stop_ = false;                              // guarded by mu_
  bool in_flight_ = false;                         // guarded by mu_: the applier holds a batch
  std::exception_ptr error_;                       // guarded by mu_
  std::atomic<std::uint64_t> applied_{0};
  std::thread applier_;
  std::unique_ptr<even::client::CatchUpSubscription> subscription_;
};

}  // namespace bank
