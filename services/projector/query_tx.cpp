#include "even/projector/query_tx.h"

#include <stdexcept>

#include "projector/query_db.h"

namespace even::projector {

namespace {
// One round trip carries at most this much (well under MariaDB's default max_allowed_packet).
constexpr std::size_t kMaxScriptBytes = 4u << 20;
constexpr std::size_t kMaxScriptStatements = 2000;
}  // namespace

QueryTx::QueryTx(QueryConnection& conn) : conn_(conn) {}

QueryTx::~QueryTx() {
  if (open_ && !done_) rollback();
}

void QueryTx::add(std::string sql) {
  queued_bytes_ += sql.size() + 1;
  queued_.push_back(std::move(sql));
  if (queued_bytes_ >= kMaxScriptBytes || queued_.size() >= kMaxScriptStatements) flush();
}

void QueryTx::begin_if_needed() {
  if (open_) return;
  queued_.insert(queued_.begin(), "START TRANSACTION");  // both MySQL and PostgreSQL
  open_ = true;
}

void QueryTx::flush() {
  if (queued_.empty()) return;
  begin_if_needed();
  std::vector<std::string> chunk;
  std::size_t bytes = 0;
  auto send = [&] {
    if (chunk.empty()) return;
    conn_.execute_batch(chunk);
    sent_ += chunk.size();
    chunk.clear();
    bytes = 0;
  };
  for (auto& s : queued_) {
    if (!chunk.empty() && (bytes + s.size() >= kMaxScriptBytes || chunk.size() >= kMaxScriptStatements)) send();
    bytes += s.size() + 2;
    chunk.push_back(std::move(s));
  }
  queued_.clear();
  queued_bytes_ = 0;
  send();
}

void QueryTx::execute(const std::string& sql) {
  begin_if_needed();
  flush();
  conn_.execute(sql);
  ++sent_;
}

std::vector<QueryRow> QueryTx::rows(const std::string& sql) {
  begin_if_needed();
  flush();
  ++sent_;
  return conn_.query(sql);
}

std::optional<std::int64_t> QueryTx::query_int(const std::string& sql) {
  begin_if_needed();
  flush();
  ++sent_;
  return conn_.query_int(sql);
}

SqlDialect QueryTx::dialect() const { return conn_.dialect().kind(); }

void QueryTx::append_quoted(std::string& out, std::string_view text) const { conn_.dialect().append_quoted(out, text); }

store::Connection& QueryTx::connection() {
  auto* m = conn_.mysql();
  if (!m) throw std::logic_error(std::string("QueryTx::connection() is for MySQL; this query database is ") +
                                 conn_.dialect().name() + " (use execute() and rows())");
  return *m;
}

std::unique_ptr<sql::ResultSet> QueryTx::query(const std::string& sql) {
  auto& m = connection();
  begin_if_needed();
  flush();
  ++sent_;
  return m.query(sql);
}

void QueryTx::commit(std::vector<std::string> final_statements) {
  begin_if_needed();
  for (auto& s : final_statements) queued_.push_back(std::move(s));
  queued_.push_back("COMMIT");
  flush();
  done_ = true;
}

void QueryTx::rollback() {
  queued_.clear();
  queued_bytes_ = 0;
  done_ = true;
  if (!open_) return;
  try {
    conn_.execute("ROLLBACK");
  } catch (const std::exception&) {
    // a lost connection rolls back anyway
  }
}

}  // namespace even::projector
