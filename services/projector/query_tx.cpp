#include <cstdio>

#include "even/projector/query_tx.h"

namespace even::projector {

namespace {
// One round trip carries at most this much (well under MariaDB's default max_allowed_packet).
constexpr std::size_t kMaxScriptBytes = 4u << 20;
constexpr std::size_t kMaxScriptStatements = 2000;
}  // namespace

QueryTx::QueryTx(store::Connection& conn) : conn_(conn) {}

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
  queued_.insert(queued_.begin(), "START TRANSACTION");
  open_ = true;
}

void QueryTx::flush() {
  if (queued_.empty()) return;
  begin_if_needed();
  std::string script;
  std::size_t count = 0;
  auto send = [&] {
    if (count == 0) return;
    conn_.execute_script(script, static_cast<int>(count), -1);
    sent_ += count;
    script.clear();
    count = 0;
  };
  for (auto& s : queued_) {
    if (count > 0 && (script.size() + s.size() >= kMaxScriptBytes || count >= kMaxScriptStatements)) send();
    if (count > 0) script += ";\n";
    script += s;
    ++count;
  }
  queued_.clear();
  queued_bytes_ = 0;
  send();
}

void QueryTx::execute(const std::string& sql) {
  if (!open_) begin_if_needed();
  flush();
  conn_.execute(sql);
  ++sent_;
}

std::unique_ptr<sql::ResultSet> QueryTx::query(const std::string& sql) {
  if (!open_) begin_if_needed();
  flush();
  ++sent_;
  return conn_.query(sql);
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
  } catch (const sql::SQLException&) {
    // a lost connection rolls back anyway
  }
}

}  // namespace even::projector
