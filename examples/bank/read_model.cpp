#include "bank/read_model.h"

#include <chrono>
#include <cstdlib>
#include <thread>

#include "bank/account.h"
#include "bank/transfer.h"
#include "even/client/event_types.h"
#include "even/projector/checkpoint.h"
#include "even/projector/sql_projection.h"

namespace bank {

using even::GlobalSeq;
using even::client::RecordedEvent;
using even::store::append_quoted;

namespace {

std::string sql_text(std::string_view s) {
  std::string out;
  append_quoted(out, s);
  return out;
}

// "account-42" -> "42"
std::string id_of(const std::string& stream) {
  auto dash = stream.find('-');
  return dash == std::string::npos ? stream : stream.substr(dash + 1);
}

template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};

}  // namespace

even::client::Filter read_model_filter() { return {{"account", "transfer"}, {}}; }

std::vector<std::string> statements_for(const RecordedEvent& e) {
  const auto cat = even::category_of(e.stream);
  const std::string id = sql_text(id_of(e.stream));
  const std::string corr = sql_text(even::client::EventMetadata::parse(e.metadata).correlation_id);
  const std::string seq = std::to_string(e.global_seq.value());
  const std::string version = std::to_string(e.stream_seq.value());
  std::vector<std::string> out;
  if (cat == "account") {
    if (!account_event_types().knows(e.type)) return out;
    auto touch = ", version = " + version + ", last_global_seq = " + seq + ", last_correlation_id = " + corr;
    std::visit(overloaded{
                   [&](const AccountOpened& o) {
                     out.push_back("INSERT INTO accounts (id, owner, currency, balance, version, last_global_seq, "
                                   "last_correlation_id) VALUES (" + id + ", " + sql_text(o.owner) + ", " +
                                   sql_text(o.currency) + ", 0, " + version + ", " + seq + ", " + corr +
                                   ") ON DUPLICATE KEY UPDATE owner = VALUES(owner)");
                   },
                   [&](const Deposited& d) {
                     out.push_back("UPDATE accounts SET balance = balance + " + std::to_string(d.amount) + touch +
                                   " WHERE id = " + id);
                   },
                   [&](const Withdrawn& w) {
                     out.push_back("UPDATE accounts SET balance = balance - " + std::to_string(w.amount) + touch +
                                   " WHERE id = " + id);
                   },
               },
               account_event_types().decode(e));
  } else if (cat == "transfer") {
    if (!transfer_event_types().knows(e.type)) return out;
    std::visit(overloaded{
                   [&](const TransferStarted& t) {
                     out.push_back("INSERT IGNORE INTO transfers (id, from_account, to_account, amount, status, "
                                   "correlation_id) VALUES (" + id + ", " + sql_text(t.from) + ", " + sql_text(t.to) +
                                   ", " + std::to_string(t.amount) + ", 'started', " + corr + ")");
                   },
                   [&](const TransferDebited&) {
                     out.push_back("UPDATE transfers SET status = 'debited' WHERE id = " + id);
                   },
                   [&](const TransferCompleted&) {
                     out.push_back("UPDATE transfers SET status = 'completed' WHERE id = " + id);
                   },
                   [&](const TransferFailed& f) {
                     out.push_back("UPDATE transfers SET status = 'failed', reason = " + sql_text(f.reason) +
                                   ", refunded = " + (f.refunded ? "1" : "0") + " WHERE id = " + id);
                   },
               },
               transfer_event_types().decode(e));
  }
  return out;
}

namespace {
const char* const kTables[] = {
    "CREATE TABLE IF NOT EXISTS accounts (id VARCHAR(190) PRIMARY KEY, owner VARCHAR(200) NOT NULL, "
    "currency VARCHAR(8) NOT NULL, balance BIGINT NOT NULL, version BIGINT NOT NULL, "
    "last_global_seq BIGINT UNSIGNED NOT NULL, last_correlation_id VARCHAR(64) NOT NULL) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS transfers (id VARCHAR(190) PRIMARY KEY, from_account VARCHAR(190) NOT NULL, "
    "to_account VARCHAR(190) NOT NULL, amount BIGINT NOT NULL, status VARCHAR(16) NOT NULL, "
    "reason VARCHAR(1000) NOT NULL DEFAULT '', refunded BOOLEAN NOT NULL DEFAULT 0, "
    "correlation_id VARCHAR(64) NOT NULL) ENGINE=InnoDB",
};
}  // namespace

void BankProjection::setup(even::projector::QueryTx& tx) {
  for (const char* sql : kTables) tx.add(sql);
}

void BankProjection::reset(even::projector::QueryTx& tx) {
  tx.add("DROP TABLE IF EXISTS accounts");
  tx.add("DROP TABLE IF EXISTS transfers");
}

void BankProjection::handle(const RecordedEvent& e, even::projector::QueryTx& tx) {
  for (auto& sql : statements_for(e)) tx.add(std::move(sql));
}

std::shared_ptr<even::projector::Projection> activity_projection(const std::string& path) {
  for (auto& p : even::projector::load_sql_projections(path.empty() ? BANK_PROJECTIONS_FILE : path))
    if (p->name() == kActivityProjection) return p;
  throw std::runtime_error("no projection '" + std::string(kActivityProjection) + "' in " + path);
}

// --- BankProjector ------------------------------------------------------------------------------

BankProjector::BankProjector(even::client::Client& client, const even::config::DbOptions& query_db, bool rebuild,
                             const std::string& projections_file)
    : query_db_(query_db), rebuild_(rebuild) {
  even::store::Connection::open(query_db, false)
      ->execute("CREATE DATABASE IF NOT EXISTS " + even::store::identifier(query_db.name));
  conn_ = even::store::Connection::open(query_db);
  even::config::LogOptions lo;
  lo.level = std::getenv("BANK_LOG_LEVEL") ? std::getenv("BANK_LOG_LEVEL") : "warn";
  auto log = even::config::make_logger("bank-projector", lo);
  even::projector::RunnerOptions ro;
  ro.progress_interval = std::chrono::milliseconds(100);  // idle checkpoints move up to the head soon
  ro.retry_after = std::chrono::milliseconds(200);
  ro.rebuild_at_start = rebuild;
  for (auto p : {std::shared_ptr<even::projector::Projection>(std::make_shared<BankProjection>()),
                 activity_projection(projections_file)}) {
    runners_.push_back(std::make_unique<even::projector::ProjectionRunner>(client, p, query_db, ro, log));
    runners_.back()->start();
  }
}

BankProjector::~BankProjector() {
  for (auto& r : runners_) r->stop();
}

void BankProjector::check() const {
  for (const auto& r : runners_)
    if (r->failed()) throw std::runtime_error("projection " + r->name() + " failed: " + r->status().error);
}

GlobalSeq BankProjector::position() {
  GlobalSeq low(UINT64_MAX);
  for (const auto& r : runners_) {
    // Before a requested rebuild has reset the read model, the old checkpoint says nothing.
    if (rebuild_ && r->status().rebuilds == 0) return GlobalSeq(0);
    // The runner's own commits, or another process's (this runner stands by while it holds the lock).
    auto checkpoint = even::projector::read_checkpoint(*conn_, r->name());
    GlobalSeq table = checkpoint ? checkpoint->position : GlobalSeq(0);
    low = std::min(low, std::max(r->status().position, table));
  }
  return low;
}

bool BankProjector::wait_for(GlobalSeq target, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    check();
    if (position() >= target) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// --- BankReadModel ------------------------------------------------------------------------------

BankReadModel::BankReadModel(const even::config::DbOptions& query_db) : conn_(even::store::Connection::open(query_db)) {}

BankReadModel::~BankReadModel() = default;

GlobalSeq BankReadModel::catch_up(even::client::Client& client, const even::config::DbOptions& query_db,
                                  std::chrono::milliseconds timeout) {
  const GlobalSeq head = client.head();
  BankProjector projector(client, query_db);
  if (!projector.wait_for(head, timeout))
    throw std::runtime_error("the read model did not reach position " + std::to_string(head.value()) + " in time");
  return projector.position();
}

GlobalSeq BankReadModel::checkpoint(const std::string& projection) {
  auto c = even::projector::read_checkpoint(*conn_, projection);
  return c ? c->position : GlobalSeq(0);
}

std::optional<ActivityRow> BankReadModel::activity(const std::string& account) {
  auto rs = conn_->query("SELECT deposits, withdrawals, deposited, withdrawn FROM account_activity WHERE account = " +
                         sql_text("account-" + account));
  if (!rs->next()) return std::nullopt;
  return ActivityRow{rs->getInt64(1), rs->getInt64(2), rs->getInt64(3), rs->getInt64(4)};
}

namespace {
AccountRow account_row(sql::ResultSet& rs) {
  AccountRow a;
  a.id = rs.getString(1);
  a.owner = rs.getString(2);
  a.balance = rs.getInt64(3);
  a.version = rs.getInt64(4);
  a.last_global_seq = rs.getUInt64(5);
  a.last_correlation_id = rs.getString(6);
  return a;
}
constexpr const char* kAccountColumns =
    "SELECT id, owner, balance, version, last_global_seq, last_correlation_id FROM accounts";
}  // namespace

std::optional<AccountRow> BankReadModel::account(const std::string& id) {
  auto rs = conn_->query(std::string(kAccountColumns) + " WHERE id = " + sql_text(id));
  if (!rs->next()) return std::nullopt;
  return account_row(*rs);
}

std::vector<AccountRow> BankReadModel::accounts(std::size_t limit) {
  std::string sql = std::string(kAccountColumns) + " ORDER BY id";
  if (limit != SIZE_MAX) sql += " LIMIT " + std::to_string(limit);
  auto rs = conn_->query(sql);
  std::vector<AccountRow> out;
  while (rs->next()) out.push_back(account_row(*rs));
  return out;
}

std::optional<TransferRow> BankReadModel::transfer(const std::string& id) {
  auto rs = conn_->query(
      "SELECT id, from_account, to_account, status, reason, correlation_id, amount, refunded FROM transfers WHERE id = " +
      sql_text(id));
  if (!rs->next()) return std::nullopt;
  TransferRow t;
  t.id = rs->getString(1);
  t.from = rs->getString(2);
  t.to = rs->getString(3);
  t.status = rs->getString(4);
  t.reason = rs->getString(5);
  t.correlation_id = rs->getString(6);
  t.amount = rs->getInt64(7);
  t.refunded = rs->getBoolean(8);
  return t;
}

std::vector<std::pair<std::string, std::int64_t>> BankReadModel::transfer_counts() {
  auto rs = conn_->query("SELECT status, COUNT(*) FROM transfers GROUP BY status ORDER BY status");
  std::vector<std::pair<std::string, std::int64_t>> out;
  while (rs->next()) out.emplace_back(rs->getString(1), rs->getInt64(2));
  return out;
}

std::int64_t BankReadModel::total_balance() {
  return conn_->query_int("SELECT COALESCE(SUM(balance), 0) FROM accounts").value_or(0);
}

}  // namespace bank
