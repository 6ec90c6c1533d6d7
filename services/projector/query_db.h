// The query database behind a ProjectionRunner, whatever server it is: QueryDialect (what differs
// between servers: connecting, quoting, error kinds, the few SQL words the projector writes
// itself) and QueryConnection (one open connection). Two implementations: MySQL/MariaDB through
// Connector/C++ (mysql_query_db.cpp, urls tcp:// and unix://) and PostgreSQL through libpqxx
// (postgres_query_db.cpp, urls postgresql:// and postgres://). query_dialect(url) picks one.
//
// Internal to the projector: projections see QueryTx (even/projector/query_tx.h), which runs on a
// QueryConnection.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "even/common/config.h"
#include "even/common/store/mysql.h"
#include "even/projector/query_tx.h"

namespace even::projector {

class QueryConnection;

// What an error from a query database means to the runner.
enum class QueryErrorKind {
  lost,         // the connection is gone: the outcome of an in-flight COMMIT is unknown; reconnect
  retry,        // a deadlock or a lock wait timeout: the transaction was rolled back; try again
  unreachable,  // cannot connect (server down, refused): try again later
  missing,      // no such database or table
  other,        // anything else the server refused (a bad statement, access denied...)
  foreign,      // not an error of this server's client library
};

// What differs between query-database servers. Stateless; one instance per server kind, shared
// by every thread.
class QueryDialect {
 public:
  virtual ~QueryDialect() = default;

  virtual SqlDialect kind() const = 0;
  virtual const char* name() const = 0;  // "MySQL", "PostgreSQL" (for messages)

  // Connects to db.url as db.user (password from db.password_file or db.password), to database
  // db.name when select_database. Throws this server's client exception when it cannot.
  virtual std::unique_ptr<QueryConnection> open(const config::DbOptions& db, bool select_database = true) const = 0;
  // "" when `url` is one this server's client can use, else why not (checked at start-up).
  virtual std::string check_url(const std::string& url) const = 0;
  // Creates database db.name unless it exists.
  virtual void create_database(const config::DbOptions& db) const = 0;

  // Appends `text` as a string literal. Throws std::invalid_argument for text the server cannot
  // hold (PostgreSQL: a NUL byte).
  virtual void append_quoted(std::string& out, std::string_view text) const = 0;
  // Appends bytes that need not be text (a binary payload): MySQL a string literal, PostgreSQL a
  // bytea literal.
  virtual void append_bytes(std::string& out, std::string_view bytes) const = 0;
  // Whether a backslash escapes the next character inside '...' (MySQL's default; not in
  // PostgreSQL with standard_conforming_strings) and '#' starts a comment (MySQL only).
  virtual bool backslash_escapes() const = 0;
  // A table or database name, quoted (MySQL `name`, PostgreSQL "name"); only [A-Za-z0-9_],
  // 1..64 characters (std::invalid_argument otherwise).
  virtual std::string identifier(std::string_view name) const = 0;
  virtual bool hash_comments() const = 0;

  virtual QueryErrorKind classify(const std::exception& e) const = 0;
  // The error for logs and the checkpoint row: "MySQL error 1146 (42S02): ..." / "PostgreSQL error 42P01: ...".
  virtual std::string describe(const std::exception& e) const = 0;

  // SQL the projector writes itself.
  virtual std::string checkpoint_table_ddl(const std::string& table) const = 0;
  // "ON DUPLICATE KEY UPDATE" / "ON CONFLICT (key) DO UPDATE SET", and how the update part names
  // the value the INSERT proposed for `column` (VALUES(c) / EXCLUDED.c).
  virtual std::string on_conflict_update(const std::string& key) const = 0;
  virtual std::string inserted(const std::string& column) const = 0;
};

// The dialect of a query-database url: postgresql:// and postgres:// are PostgreSQL; tcp://,
// unix:// (and anything else Connector/C++ takes) MySQL.
const QueryDialect& query_dialect(const std::string& url);
const QueryDialect& mysql_dialect();
const QueryDialect& postgres_dialect();

// The libpq connection string of a postgresql://HOST[:PORT] url with db's user, password, TLS and
// timeouts (database "postgres" unless select_database). Throws std::invalid_argument for a bad url.
std::string postgres_conninfo(const config::DbOptions& db, bool select_database = true);

// A QueryConnection over an open MySQL connection that stays the caller's (it must outlive the result).
std::unique_ptr<QueryConnection> borrow_mysql(store::Connection& conn);

// Rolls `e` up to one kind, whichever server's exception it is.
QueryErrorKind classify_query_error(const std::exception& e);
std::string describe_query_error(const std::exception& e);

// One connection to a query database. Not thread-safe: one owner thread (a runner's) uses it.
class QueryConnection {
 public:
  virtual ~QueryConnection() = default;

  virtual const QueryDialect& dialect() const = 0;
  // One statement, now (autocommitted unless a transaction is open).
  virtual void execute(const std::string& sql) = 0;
  // The statements, in order, in one round trip; the first error throws and the statements after
  // it do not run.
  virtual void execute_batch(const std::vector<std::string>& statements) = 0;
  // The statements as one multi-statement script (each implementation's execute_batch sends it).
  static std::string script_of(const std::vector<std::string>& statements);
  // Every row of a query's result, each column as text (nullopt for NULL).
  virtual std::vector<QueryRow> query(const std::string& sql) = 0;
  // The first column of the first row as an integer (nullopt for no row or NULL).
  std::optional<std::int64_t> query_int(const std::string& sql);
  // Takes the named lock without waiting; true when this connection holds it (now or already).
  // It is held until the connection closes (MySQL GET_LOCK, PostgreSQL pg_try_advisory_lock on a
  // 64-bit hash of the name).
  virtual bool try_lock(const std::string& name) = 0;
  // The Connector/C++ connection underneath, or nullptr on another server.
  virtual store::Connection* mysql() { return nullptr; }
};

}  // namespace even::projector
