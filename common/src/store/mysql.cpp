#include "even/common/store/mysql.h"

#include <cppconn/driver.h>
#include <mysql_driver.h>

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "even/common/store/replication.h"

namespace even::store {

namespace {
sql::Driver& driver() {
  // get_driver_instance() is not thread-safe on first use.
  static std::once_flag once;
  static sql::Driver* d = nullptr;
  std::call_once(once, [] { d = sql::mysql::get_mysql_driver_instance(); });
  return *d;
}
}  // namespace

bool is_connection_lost(const sql::SQLException& e) {
  switch (e.getErrorCode()) {
    case 2002:  // CR_CONNECTION_ERROR
    case 2003:  // CR_CONN_HOST_ERROR
    case 2006:  // CR_SERVER_GONE_ERROR
    case 2013:  // CR_SERVER_LOST
    case 2055:  // CR_SERVER_LOST_EXTENDED
    case 1927:  // ER_CONNECTION_KILLED (MariaDB)
    case 1053:  // ER_SERVER_SHUTDOWN
      return true;
    default:
      return false;
  }
}

std::string describe(const sql::SQLException& e) {
  return "MySQL error " + std::to_string(e.getErrorCode()) + " (" + std::string(e.getSQLState().c_str()) +
         "): " + e.what();
}

Connection::Connection(std::unique_ptr<sql::Connection> c) : conn_(std::move(c)), stmt_(conn_->createStatement()) {}

namespace {
// Why the server of `c` is not a replica to read from (nullopt: it replicates).
std::optional<std::string> not_replicating(Connection& c) {
  std::unique_ptr<sql::ResultSet> rs;
  try {
    rs = c.query("SHOW SLAVE STATUS");
  } catch (const sql::SQLException& e) {
    if (is_connection_lost(e)) throw;
    return "cannot see SHOW SLAVE STATUS: " + describe(e);
  }
  if (!rs->next()) return std::string("read-only but not a replica (no SLAVE STATUS)");
  const std::string sql_running = rs->getString("Slave_SQL_Running").c_str();
  if (sql_running != "Yes") return "its SQL thread does not run (Slave_SQL_Running=" + sql_running + ")";
  return std::nullopt;
}
}  // namespace

std::unique_ptr<Connection> Connection::open(const DbOptions& db, bool select_database) {
  const auto urls = store_urls(db.url);
  if (urls.size() <= 1) return open_one(urls.empty() ? db : at_url(db, urls[0]), select_database);
  std::string passed_over;
  int refused = 0;  // a refused login (1045) or unknown database (1049): a configuration error
  for (const auto& url : urls) {
    try {
      auto c = open_one(at_url(db, url), select_database);
      if (!is_read_only(*c)) return c;
      passed_over += " " + url + " (read-only);";
    } catch (const sql::SQLException& e) {
      passed_over += " " + url + " (" + describe(e) + ");";
      if (e.getErrorCode() == 1045 || e.getErrorCode() == kErBadDb) refused = e.getErrorCode();
    }
  }
  // Reported as itself, so that services give the configuration error rather than retry a
  // "lost connection"; else error 2003.
  throw sql::SQLException("no writable store among" + passed_over.substr(0, passed_over.size() - 1),
                          refused ? (refused == 1045 ? "28000" : "42000") : "HY000", refused ? refused : 2003);
}

std::unique_ptr<Connection> Connection::open_replica(const DbOptions& db, std::size_t pick, std::string* url,
                                                     std::string* passed_over) {
  if (passed_over) passed_over->clear();
  const auto urls = store_urls(db.url);
  if (urls.size() <= 1) return nullptr;
  std::vector<std::size_t> order(urls.size());
  for (std::size_t i = 0; i < urls.size(); ++i) order[i] = (pick + i) % urls.size();  // start at the pick-th
  for (std::size_t i : order) {
    try {
      auto c = open_one(at_url(db, urls[i]), true);
      if (!is_read_only(*c)) continue;
      if (auto why = not_replicating(*c)) {
        if (passed_over) *passed_over += (passed_over->empty() ? "" : "; ") + urls[i] + ": " + *why;
        continue;
      }
      if (url) *url = urls[i];
      return c;
    } catch (const sql::SQLException&) {
    }
  }
  return nullptr;
}

std::unique_ptr<Connection> Connection::open_one(const DbOptions& db, bool select_database) {
  std::string password;
  bool tls = false;
  try {
    password = resolve_password(db);
    tls = uses_tls(db);
  } catch (const std::exception& e) {
    // A configuration error, reported like a refused login (error 1045): every caller handles
    // SQLException when it connects.
    throw sql::SQLException(e.what(), "28000", 1045);
  }
  sql::ConnectOptionsMap opts;
  opts["hostName"] = sql::SQLString(db.url);
  opts["userName"] = sql::SQLString(db.user);
  opts["password"] = sql::SQLString(password);
  if (tls) {
    // Connector/C++ 1.1 over MariaDB Connector/C: sslEnforce = MYSQL_OPT_SSL_ENFORCE (no TLS, no
    // connection), sslVerify = MYSQL_OPT_SSL_VERIFY_SERVER_CERT (the certificate chains to sslCA and
    // names the host: VERIFY_IDENTITY); without sslCA the system's CAs are used.
    opts["sslEnforce"] = true;
    opts["sslVerify"] = true;
    if (!db.tls_ca.empty()) opts["sslCA"] = sql::SQLString(db.tls_ca);
  }
  opts["OPT_CONNECT_TIMEOUT"] = db.connect_timeout_s;
  opts["OPT_READ_TIMEOUT"] = db.read_timeout_s;
  opts["OPT_WRITE_TIMEOUT"] = db.read_timeout_s;
  opts["OPT_RECONNECT"] = false;  // Even reconnects itself, after finding out what happened
  opts["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
  if (select_database) opts["schema"] = sql::SQLString(db.name);
  if (db.multi_statements) opts["CLIENT_MULTI_STATEMENTS"] = true;
  try {
    std::unique_ptr<sql::Connection> c(driver().connect(opts));
    auto conn = std::make_unique<Connection>(std::move(c));
    conn->url_ = db.url;
    return conn;
  } catch (const sql::SQLException& e) {
    if (!tls || e.getErrorCode() != kCrSslConnectionError) throw;
    throw sql::SQLException("TLS to " + db.url + " failed (db-tls-ca " +
                                (db.tls_ca.empty() ? std::string("unset: the system's CAs") : "'" + db.tls_ca + "'") +
                                "; the server's certificate must chain to it and name the host): " + e.what(),
                            e.getSQLState(), e.getErrorCode());
  }
}

void Connection::execute(const std::string& sql) { stmt_->execute(sql); }

std::uint64_t Connection::update(const std::string& sql) { return static_cast<std::uint64_t>(stmt_->executeUpdate(sql)); }

std::unique_ptr<sql::ResultSet> Connection::query(const std::string& sql) {
  return std::unique_ptr<sql::ResultSet>(stmt_->executeQuery(sql));
}

std::unique_ptr<sql::ResultSet> Connection::query_streaming(const std::string& sql) {
  std::unique_ptr<sql::Statement> s(conn_->createStatement());
  s->setResultSetType(sql::ResultSet::TYPE_FORWARD_ONLY);
  return std::unique_ptr<sql::ResultSet>(s->executeQuery(sql));
}

std::optional<std::int64_t> Connection::execute_script(const std::string& sql, int statements, int select_index) {
  std::optional<std::int64_t> value;
  // Connector/C++ 1.1: getMoreResults() is true only when the next result is a result set, so the
  // script's shape is given by the caller and each result is stepped through exactly once.
  bool is_result = stmt_->execute(sql);
  for (int i = 0; i < statements; ++i) {
    if (i > 0) is_result = stmt_->getMoreResults();
    if (i == select_index && is_result) {
      std::unique_ptr<sql::ResultSet> rs(stmt_->getResultSet());
      if (rs->next() && !rs->isNull(1)) value = rs->getInt64(1);
    }
  }
  return value;
}

std::uint64_t Connection::last_insert_id() {
  auto v = query_int("SELECT LAST_INSERT_ID()");
  return v ? static_cast<std::uint64_t>(*v) : 0;
}

std::optional<std::int64_t> Connection::query_int(const std::string& sql) {
  auto rs = query(sql);
  if (!rs->next() || rs->isNull(1)) return std::nullopt;
  return rs->getInt64(1);
}

void Connection::begin() {
  if (conn_->getAutoCommit()) conn_->setAutoCommit(false);
}

void Connection::commit() { conn_->commit(); }

void Connection::rollback() {
  try {
    conn_->rollback();
  } catch (const sql::SQLException&) {
  }
}

bool Connection::valid() {
  try {
    return conn_->isValid();
  } catch (const sql::SQLException&) {
    return false;
  }
}

void append_quoted(std::string& out, std::string_view text) {
  out.push_back('\'');
  for (char c : text) {
    switch (c) {
      case '\0': out += "\\0"; break;
      case '\'': out += "\\'"; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\x1a': out += "\\Z"; break;
      default: out.push_back(c);
    }
  }
  out.push_back('\'');
}

void append_hex(std::string& out, const void* data, std::size_t size) {
  if (size == 0) {
    out += "''";
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* p = static_cast<const unsigned char*>(data);
  out.reserve(out.size() + size * 2 + 3);
  out += "X'";
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 0xF]);
  }
  out.push_back('\'');
}

std::string identifier(std::string_view name) {
  if (name.empty() || name.size() > 64) throw std::invalid_argument("identifier must be 1..64 characters");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) throw std::invalid_argument("identifier '" + std::string(name) + "' may only have letters, digits and _");
  }
  return "`" + std::string(name) + "`";
}

}  // namespace even::store
