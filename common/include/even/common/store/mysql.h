// A thin RAII layer over MySQL Connector/C++ (the JDBC-style 1.1 API): opening connections with
// Even's options, classifying errors, and building SQL text safely.
//
// A Connection is not thread-safe: one owner thread uses it (each service worker has its own).
#pragma once

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "even/common/store/db_options.h"

namespace even::store {

// MySQL/MariaDB error numbers Even reacts to.
inline constexpr int kErDupEntry = 1062;
inline constexpr int kErLockWaitTimeout = 1205;
inline constexpr int kErLockDeadlock = 1213;
inline constexpr int kErBadDb = 1049;
inline constexpr int kErNoSuchTable = 1146;
inline constexpr int kErTableAccessDenied = 1142;  // a command denied to this user on a table
inline constexpr int kCrSslConnectionError = 2026; // TLS handshake or certificate check failed

// True when the error means the connection is gone (server gone away, lost, cannot connect):
// after such an error the outcome of an in-flight COMMIT is unknown.
bool is_connection_lost(const sql::SQLException& e);
// "code 1062 (23000): Duplicate entry ..." for logs.
std::string describe(const sql::SQLException& e);

class Connection {
 public:
  // Connects to db.url as db.user, with the password of db.password_file (read now) or
  // db.password, over TLS when uses_tls(db). With select_database, also USEs db.name (which must
  // exist). Throws sql::SQLException when the server cannot be reached, refuses the login, or
  // fails the TLS check (kCrSslConnectionError, with the CA in the message); a password file that
  // cannot be read or is readable by others, or a bad db.tls, is error 1045 with the reason.
  //
  // A db.url listing several servers (a primary and its replicas) connects to the first one, in
  // list order, that is reachable and writable (@@read_only = 0): the primary, also after a
  // replica was promoted. None writable is error 2003 (a lost connection to is_connection_lost)
  // naming every server and why it was passed over.
  static std::unique_ptr<Connection> open(const DbOptions& db, bool select_database = true);
  // For reads: a connection to a replica of db.url's list: the first reachable one from the
  // pick-th entry on (modulo the list's length, so that workers spread over the replicas) that is
  // read-only and replicating (SHOW SLAVE STATUS: Slave_SQL_Running=Yes; a user that may not see
  // it, MariaDB's SLAVE MONITOR privilege, reads from the primary); null when the list has one
  // server or no replica qualifies (read from open() then). `url`, when given, receives the
  // chosen server; `passed_over`, when given, the read-only servers skipped and why.
  static std::unique_ptr<Connection> open_replica(const DbOptions& db, std::size_t pick, std::string* url = nullptr,
                                                  std::string* passed_over = nullptr);

  void execute(const std::string& sql);
  std::uint64_t update(const std::string& sql);  // returns affected rows
  std::unique_ptr<sql::ResultSet> query(const std::string& sql);
  // For big results: rows are streamed from the server (mysql_use_result) instead of buffered.
  // The result must be fully read or destroyed before the next statement on this connection.
  std::unique_ptr<sql::ResultSet> query_streaming(const std::string& sql);
  std::uint64_t last_insert_id();
  // A single integer from the first row/column (nullopt for no row or NULL).
  std::optional<std::int64_t> query_int(const std::string& sql);

  // Runs `statements` ';'-separated statements in one round trip (needs db.multi_statements) and
  // returns the first column of the first row of the result of statement number `select_index`
  // (0-based), which must be a SELECT. Every result is consumed; an error in any statement throws
  // and the statements after it do not run.
  std::optional<std::int64_t> execute_script(const std::string& sql, int statements, int select_index);

  void begin();     // autocommit off for the next transaction
  void commit();
  void rollback();  // never throws; a failed rollback means a lost connection anyway

  sql::Connection& raw() { return *conn_; }
  // The server this connection went to (one entry of a DbOptions url list).
  const std::string& url() const { return url_; }
  bool valid();

  explicit Connection(std::unique_ptr<sql::Connection> c);  // use open()

 private:
  static std::unique_ptr<Connection> open_one(const DbOptions& db, bool select_database);

  std::unique_ptr<sql::Connection> conn_;
  std::unique_ptr<sql::Statement> stmt_;
  std::string url_;
};

// SQL text building. Only these functions put caller data into SQL text.
// Appends 'text' quoted and escaped for MySQL (backslash and quote escaping, NUL as \0).
void append_quoted(std::string& out, std::string_view text);
// Appends binary data as a hex literal (X'...'), or '' when empty.
void append_hex(std::string& out, const void* data, std::size_t size);
// An identifier: only [A-Za-z0-9_] accepted, throws std::invalid_argument otherwise.
std::string identifier(std::string_view name);

}  // namespace even::store
