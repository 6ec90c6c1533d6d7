// The bank's read model, in a query database (MariaDB), kept by two projections run by
// even-projector's ProjectionRunner (services/projector): each batch of events is applied in one
// transaction together with the projection's checkpoint (table even_checkpoints), so a crash
// never applies an event twice or skips one.
//
// - "bank", a C++ projection (BankProjection): tables `accounts` (balance, version, position and
//   correlation id of the last event per account) and `transfers` (status, reason, refunded,
//   correlation id). Its SQL per event is the pure function statements_for().
// - "bank_activity", a SQL-config projection (examples/bank/projections.json, no code): table
//   `account_activity` with the number and sum of deposits and withdrawals per account stream.
//   The same file can be given to even-projector (--projections).
//
// BankProjector runs both in this process (from their checkpoints, history then live);
// BankReadModel answers queries. `bank balance` starts a BankProjector, waits until it reached the
// store's head, then queries; `bank project` keeps one running.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "even/client/client.h"
#include "even/common/config.h"
#include "even/common/store/mysql.h"
#include "even/projector/projection.h"
#include "even/projector/projection_runner.h"

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

// account_activity, from the SQL-config projection.
struct ActivityRow {
  std::int64_t deposits = 0, withdrawals = 0, deposited = 0, withdrawn = 0;
};

inline constexpr const char* kBankProjection = "bank";
inline constexpr const char* kActivityProjection = "bank_activity";

// The events the C++ projection consumes.
even::client::Filter read_model_filter();
// The SQL that applies `e` to the read model (empty for events it ignores).
std::vector<std::string> statements_for(const even::client::RecordedEvent& e);

class BankProjection : public even::projector::Projection {
 public:
  std::string name() const override { return kBankProjection; }
  even::client::Filter filter() const override { return read_model_filter(); }
  std::string definition_hash() const override { return "bank-v1"; }
  void setup(even::projector::QueryTx& tx) override;
  void reset(even::projector::QueryTx& tx) override;
  void handle(const even::client::RecordedEvent& e, even::projector::QueryTx& tx) override;
};

// The SQL-config projection of `path` (default: the projections.json beside this file).
std::shared_ptr<even::projector::Projection> activity_projection(const std::string& path = {});

// Runs both projections into `query_db` (created if missing). Owns their runners (a thread, a
// connection and a subscription each). The Client must outlive it.
class BankProjector {
 public:
  BankProjector(even::client::Client& client, const even::config::DbOptions& query_db, bool rebuild = false,
                const std::string& projections_file = {});
  ~BankProjector();  // stops the runners after their current batch
  // Waits until both projections' checkpoints reached `position` (every matching event up to it
  // is applied). Throws when a projection failed; false on timeout.
  bool wait_for(even::GlobalSeq position, std::chrono::milliseconds timeout);
  // The lower of the two checkpoints.
  even::GlobalSeq position();
  void check() const;  // throws std::runtime_error when a runner failed

 private:
  even::config::DbOptions query_db_;
  std::unique_ptr<even::store::Connection> conn_;  // reads the checkpoints
  std::vector<std::unique_ptr<even::projector::ProjectionRunner>> runners_;
  bool rebuild_ = false;  // asked to rebuild: positions count only once each runner's rebuild began
};

// Queries on the read model. Not thread-safe (one connection).
class BankReadModel {
 public:
  explicit BankReadModel(const even::config::DbOptions& query_db);
  ~BankReadModel();

  // Brings both projections up to the store's head (a BankProjector until it gets there) and
  // returns the position reached.
  static even::GlobalSeq catch_up(even::client::Client& client, const even::config::DbOptions& query_db,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

  even::GlobalSeq checkpoint(const std::string& projection = kBankProjection);
  std::optional<AccountRow> account(const std::string& id);
  std::vector<AccountRow> accounts(std::size_t limit = SIZE_MAX);
  std::optional<TransferRow> transfer(const std::string& id);
  std::optional<ActivityRow> activity(const std::string& account);
  // Number of transfers per status ("completed", "failed", ...), and the sum of all balances.
  std::vector<std::pair<std::string, std::int64_t>> transfer_counts();
  std::int64_t total_balance();

 private:
  std::unique_ptr<even::store::Connection> conn_;
};

}  // namespace bank
