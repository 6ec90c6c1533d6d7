// The MySQL/MariaDB query database: Connector/C++ through store::Connection (multi-statement
// batches, GET_LOCK).
#include <cppconn/resultset_metadata.h>

#include "even/projector/projection.h"
#include "projector/query_db.h"

namespace even::projector {

namespace {

class MysqlConnection : public QueryConnection {
 public:
  explicit MysqlConnection(std::unique_ptr<store::Connection> c) : owned_(std::move(c)), conn_(owned_.get()) {}
  explicit MysqlConnection(store::Connection& c) : conn_(&c) {}

  const QueryDialect& dialect() const override { return mysql_dialect(); }
  void execute(const std::string& sql) override { conn_->execute(sql); }

  void execute_batch(const std::vector<std::string>& statements) override {
    if (statements.empty()) return;
    const std::string script = script_of(statements);
    conn_->execute_script(script, static_cast<int>(statements.size()), -1);
  }

  std::vector<QueryRow> query(const std::string& sql) override {
    auto rs = conn_->query(sql);
    const auto columns = rs->getMetaData()->getColumnCount();
    std::vector<QueryRow> out;
    while (rs->next()) {
      QueryRow row;
      row.reserve(columns);
      for (unsigned i = 1; i <= columns; ++i) {
        if (rs->isNull(i)) row.emplace_back();
        else row.emplace_back(std::string(rs->getString(i)));
      }
      out.push_back(std::move(row));
    }
    return out;
  }

  bool try_lock(const std::string& name) override {
    std::string sql = "SELECT GET_LOCK(";
    store::append_quoted(sql, name.size() <= 64 ? name : "even:" + stable_hash(name));
    sql += ", 0)";
    return conn_->query_int(sql).value_or(0) == 1;
  }

  store::Connection* mysql() override { return conn_; }

 private:
  std::unique_ptr<store::Connection> owned_;
  store::Connection* conn_;
};

class MysqlDialect : public QueryDialect {
 public:
  SqlDialect kind() const override { return SqlDialect::mysql; }
  const char* name() const override { return "MySQL"; }

  std::unique_ptr<QueryConnection> open(const config::DbOptions& db, bool select_database) const override {
    auto o = db;
    o.multi_statements = true;
    return std::make_unique<MysqlConnection>(store::Connection::open(o, select_database));
  }

  std::string check_url(const std::string&) const override { return {}; }

  void create_database(const config::DbOptions& db) const override {
    store::Connection::open(db, false)->execute("CREATE DATABASE IF NOT EXISTS " + store::identifier(db.name) +
                                                " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
  }

  void append_quoted(std::string& out, std::string_view text) const override { store::append_quoted(out, text); }
  void append_bytes(std::string& out, std::string_view bytes) const override { store::append_quoted(out, bytes); }
  bool backslash_escapes() const override { return true; }
  std::string identifier(std::string_view name) const override { return store::identifier(name); }
  bool hash_comments() const override { return true; }

  QueryErrorKind classify(const std::exception& e) const override {
    const auto* s = dynamic_cast<const sql::SQLException*>(&e);
    if (!s) return QueryErrorKind::foreign;
    if (s->getErrorCode() == 2002 || s->getErrorCode() == 2003) return QueryErrorKind::unreachable;
    if (store::is_connection_lost(*s)) return QueryErrorKind::lost;
    if (s->getErrorCode() == store::kErLockDeadlock || s->getErrorCode() == store::kErLockWaitTimeout)
      return QueryErrorKind::retry;
    if (s->getErrorCode() == store::kErBadDb || s->getErrorCode() == store::kErNoSuchTable)
      return QueryErrorKind::missing;
    return QueryErrorKind::other;
  }

  std::string describe(const std::exception& e) const override {
    if (const auto* s = dynamic_cast<const sql::SQLException*>(&e)) return store::describe(*s);
    return e.what();
  }

  std::string checkpoint_table_ddl(const std::string& table) const override {
    // Keep in step with migration 2 in common/src/store/schema.cpp (projection_stream_checkpoints).
    return "CREATE TABLE IF NOT EXISTS " + store::identifier(table) +
           " (projection VARCHAR(190) NOT NULL, position BIGINT UNSIGNED NOT NULL, definition_hash VARCHAR(64) NOT NULL,"
           " state VARCHAR(16) NOT NULL, events_applied BIGINT UNSIGNED NOT NULL DEFAULT 0,"
           " head BIGINT UNSIGNED NOT NULL DEFAULT 0, rate DOUBLE NOT NULL DEFAULT 0,"
           " rebuild_from_head BIGINT UNSIGNED NOT NULL DEFAULT 0, rebuild_requested TINYINT NOT NULL DEFAULT 0,"
           " error TEXT NULL, updated_at_us BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (projection)) ENGINE=InnoDB";
  }
  std::string on_conflict_update(const std::string&) const override { return "ON DUPLICATE KEY UPDATE"; }
  std::string inserted(const std::string& column) const override { return "VALUES(" + column + ")"; }
};

}  // namespace

std::unique_ptr<QueryConnection> borrow_mysql(store::Connection& conn) {
  return std::make_unique<MysqlConnection>(conn);
}

const QueryDialect& mysql_dialect() {
  static const MysqlDialect d;
  return d;
}

}  // namespace even::projector
