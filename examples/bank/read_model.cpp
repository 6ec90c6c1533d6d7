#include "bank/read_model.h"

#include <chrono>

#include "bank/account.h"
#include "bank/transfer.h"
#include "even/client/event_types.h"

namespace bank {

using even::GlobalSeq;
using even::client::RecordedEvent;
using even::store::append_quoted;

namespace {

constexpr std::size_t kBatch = 500;

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

BankReadModel::BankReadModel(const even::config::DbOptions& query_db) {
  {
    auto c = even::store::Connection::open(query_db, false);
    c->execute("CREATE DATABASE IF NOT EXISTS " + even::store::identifier(query_db.name));
  }
  conn_ = even::store::Connection::open(query_db);
  conn_->execute(
      "CREATE TABLE IF NOT EXISTS accounts (id VARCHAR(190) PRIMARY KEY, owner VARCHAR(200) NOT NULL, "
      "currency VARCHAR(8) NOT NULL, balance BIGINT NOT NULL, version BIGINT NOT NULL, "
      "last_global_seq BIGINT UNSIGNED NOT NULL, last_correlation_id VARCHAR(64) NOT NULL) ENGINE=InnoDB");
  conn_->execute(
      "CREATE TABLE IF NOT EXISTS transfers (id VARCHAR(190) PRIMARY KEY, from_account VARCHAR(190) NOT NULL, "
      "to_account VARCHAR(190) NOT NULL, amount BIGINT NOT NULL, status VARCHAR(16) NOT NULL, "
      "reason VARCHAR(1000) NOT NULL DEFAULT '', refunded BOOLEAN NOT NULL DEFAULT 0, "
      "correlation_id VARCHAR(64) NOT NULL) ENGINE=InnoDB");
  conn_->execute(
      "CREATE TABLE IF NOT EXISTS bank_checkpoint (name VARCHAR(64) PRIMARY KEY, position BIGINT UNSIGNED NOT NULL) "
      "ENGINE=InnoDB");
  conn_->execute("INSERT IGNORE INTO bank_checkpoint VALUES ('bank', 0)");
}

BankReadModel::~BankReadModel() = default;

void BankReadModel::apply(const std::vector<RecordedEvent>& events, GlobalSeq position) {
  conn_->begin();
  try {
    for (const auto& e : events)
      for (const auto& sql : statements_for(e)) conn_->execute(sql);
    conn_->execute("UPDATE bank_checkpoint SET position = GREATEST(position, " + std::to_string(position.value()) +
                   ") WHERE name = 'bank'");
    conn_->commit();
  } catch (...) {
    conn_->rollback();
    throw;
  }
}

GlobalSeq BankReadModel::checkpoint() {
  return GlobalSeq(static_cast<std::uint64_t>(
      conn_->query_int("SELECT position FROM bank_checkpoint WHERE name = 'bank'").value_or(0)));
}

GlobalSeq BankReadModel::catch_up(even::client::Client& client) {
  const GlobalSeq head = client.head();
  GlobalSeq pos = checkpoint();
  std::vector<RecordedEvent> batch;
  for (const auto& e : client.read_all(pos.next(), read_model_filter())) {
    if (e.global_seq > head) break;
    batch.push_back(e);
    if (batch.size() >= kBatch) {
      apply(batch, batch.back().global_seq);
      batch.clear();
    }
  }
  // Every matching event <= head is applied: the checkpoint may move to the head.
  if (head > pos) apply(batch, head);
  return checkpoint();
}

void BankReadModel::reset() {
  conn_->begin();
  conn_->execute("DELETE FROM accounts");
  conn_->execute("DELETE FROM transfers");
  conn_->execute("UPDATE bank_checkpoint SET position = 0");
  conn_->commit();
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

// --- LiveProjection -----------------------------------------------------------------------------

LiveProjection::LiveProjection(even::client::Client& client, const even::config::DbOptions& query_db)
    : model_(query_db) {
  const GlobalSeq from = model_.checkpoint().next();
  applied_ = from.value() - 1;
  applier_ = std::thread([this] { apply_loop(); });
  subscription_ = client.subscribe(from, read_model_filter(), [this](const RecordedEvent& e) {
    std::lock_guard lock(mu_);
    queue_.push_back(e);
    cv_.notify_all();
  });
}

LiveProjection::~LiveProjection() {
  subscription_.reset();
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  applier_.join();
}

void LiveProjection::apply_loop() {
  std::vector<RecordedEvent> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      while (!queue_.empty() && batch.size() < kBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      in_flight_ = true;
    }
    try {
      model_.apply(batch, batch.back().global_seq);
      applied_ = batch.back().global_seq.value();
    } catch (...) {
      std::lock_guard lock(mu_);
      error_ = std::current_exception();
      cv_.notify_all();
      return;
    }
    batch.clear();
    std::lock_guard lock(mu_);
    in_flight_ = false;
    cv_.notify_all();
  }
}

bool LiveProjection::wait_for(GlobalSeq position, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    check();
    if (applied() >= position) return true;
    // The subscription passed `position` and nothing it handed over waits or is being applied:
    // every matching event up to there is applied (filtered-out events move the subscription's
    // position, not applied()). The handler queues an event before the position moves past it.
    const GlobalSeq seen = subscription_->position();
    std::unique_lock lock(mu_);
    if (seen >= position && queue_.empty() && !in_flight_) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    cv_.wait_for(lock, std::chrono::milliseconds(10));
  }
}

void LiveProjection::check() const {
  if (auto e = subscription_->error()) std::rethrow_exception(e);
  std::lock_guard lock(mu_);
  if (error_) std::rethrow_exception(error_);
}

}  // namespace bank
