// QueryTx: the transaction of a query database in which a ProjectionRunner applies one batch of
// events. Projections write their read model through it; the runner ends it with the checkpoint
// UPDATE and the COMMIT, so the read model and the checkpoint always change together.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "even/common/store/mysql.h"

namespace even::projector {

// The open transaction of a query database in which one batch of events is applied; the runner
// adds the checkpoint update and the COMMIT at the end. Statements given to add() are queued and
// sent many per round trip (multi-statement) when the batch commits, or before the next
// execute()/query(), so that order is kept. Only valid inside the Projection call it is passed to;
// one thread (the runner's).
class QueryTx {
 public:
  // `conn` must have been opened with multi_statements and must outlive the QueryTx.
  explicit QueryTx(store::Connection& conn);
  ~QueryTx();  // rolls back if neither committed nor rolled back
  QueryTx(const QueryTx&) = delete;
  QueryTx& operator=(const QueryTx&) = delete;

  // Queues one statement (no trailing ';'). Put caller data in with store::append_quoted.
  void add(std::string sql);
  // Runs a statement now (after the queued ones).
  void execute(const std::string& sql);
  // Runs a query now (after the queued ones); read the result before the next call.
  std::unique_ptr<sql::ResultSet> query(const std::string& sql);
  // The connection, for anything else (prepared statements...). Call flush() first.
  store::Connection& connection() { return conn_; }

  // --- for the runner ---
  // Sends the queued statements (opening the transaction first if needed).
  void flush();
  // Queues `final_statements`, then COMMIT, and sends everything (one round trip when the queue
  // is small). Throws sql::SQLException; the transaction is then rolled back by rollback().
  void commit(std::vector<std::string> final_statements = {});
  void rollback();
  std::size_t statements_sent() const { return sent_; }

 private:
  void begin_if_needed();
  store::Connection& conn_;
  std::vector<std::string> queued_;
  std::size_t queued_bytes_ = 0;
  bool open_ = false;  // START TRANSACTION sent
  bool done_ = false;
  std::size_t sent_ = 0;
};

}  // namespace even::projector
