// QueryTx: the transaction of a query database in which a ProjectionRunner applies one batch of
// events. Projections write their read model through it; the runner ends it with the checkpoint
// UPDATE and the COMMIT, so the read model and the checkpoint always change together. The query
// database is MySQL/MariaDB or PostgreSQL (chosen by its url); a projection that writes SQL of its
// own quotes values with append_quoted(), which knows the server's rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "even/common/store/mysql.h"

namespace even::projector {

class QueryConnection;  // the connection the runner owns (services/projector/query_db.h)

// The SQL dialect of a query database.
enum class SqlDialect { mysql, postgresql };

// A row of a query's result, each column as text (nullopt for NULL).
using QueryRow = std::vector<std::optional<std::string>>;

// The open transaction of a query database in which one batch of events is applied; the runner
// adds the checkpoint update and the COMMIT at the end. Statements given to add() are queued and
// sent many per round trip when the batch commits, or before the next execute()/rows(), so that
// order is kept. Only valid inside the Projection call it is passed to; one thread (the runner's).
class QueryTx {
 public:
  // `conn` must outlive the QueryTx.
  explicit QueryTx(QueryConnection& conn);
  ~QueryTx();  // rolls back if neither committed nor rolled back
  QueryTx(const QueryTx&) = delete;
  QueryTx& operator=(const QueryTx&) = delete;

  // Queues one statement (no trailing ';'). Put caller data in with append_quoted().
  void add(std::string sql);
  // Runs a statement now (after the queued ones).
  void execute(const std::string& sql);
  // Runs a query now (after the queued ones): every row, columns as text.
  std::vector<QueryRow> rows(const std::string& sql);
  // The first column of the first row of a query run now, as an integer (nullopt: no row, NULL).
  std::optional<std::int64_t> query_int(const std::string& sql);

  SqlDialect dialect() const;
  // Appends `text` as a string literal of this database (MySQL: backslash escapes; PostgreSQL:
  // standard conforming, only quotes doubled; a NUL byte throws std::invalid_argument there).
  void append_quoted(std::string& out, std::string_view text) const;

  // MySQL/MariaDB only (std::logic_error on another server): a query with Connector/C++'s result
  // (read it before the next call), and the connection for anything else (prepared statements...;
  // call flush() first).
  std::unique_ptr<sql::ResultSet> query(const std::string& sql);
  store::Connection& connection();

  // --- for the runner ---
  // Sends the queued statements (opening the transaction first if needed).
  void flush();
  // Queues `final_statements`, then COMMIT, and sends everything (one round trip when the queue
  // is small). Throws the server's error; the transaction is then rolled back by rollback().
  void commit(std::vector<std::string> final_statements = {});
  void rollback();
  std::size_t statements_sent() const { return sent_; }

 private:
  void begin_if_needed();
  QueryConnection& conn_;
  std::vector<std::string> queued_;
  std::size_t queued_bytes_ = 0;
  bool open_ = false;  // START TRANSACTION sent
  bool done_ = false;
  std::size_t sent_ = 0;
};

}  // namespace even::projector
