// The PostgreSQL query database, through libpqxx: a batch is one simple-query string (one round
// trip; PostgreSQL runs its statements in order and skips the rest after an error), the runner's
// lock a session advisory lock.
#include <pqxx/pqxx>

#include <cstdio>
#include <stdexcept>

#include "even/projector/projection.h"
#include "projector/query_db.h"

namespace even::projector {

namespace {

// A libpq connection-string value, quoted.
std::string conninfo_value(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// HOST and PORT of postgresql://HOST[:PORT] (HOST may be [v6]).
std::pair<std::string, std::string> host_port(const std::string& url) {
  const auto scheme = url.find("://");
  std::string rest = url.substr(scheme + 3);
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  std::string host, port = "5432";
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string::npos) throw std::invalid_argument("bad PostgreSQL url '" + url + "'");
    host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') throw std::invalid_argument("bad PostgreSQL url '" + url + "'");
      port = rest.substr(1);
    }
  } else {
    const auto colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.find_first_not_of("0123456789") != std::string::npos ||
      host.find_first_of("/?@") != std::string::npos)
    throw std::invalid_argument("bad PostgreSQL url '" + url +
                                "': expected postgresql://HOST[:PORT] (the database is --query-db-name, the user "
                                "--query-db-user)");
  return {host, port};
}

}  // namespace

std::string postgres_conninfo(const config::DbOptions& db, bool select_database) {
  const auto [host, port] = host_port(db.url);
  std::string c = "host=" + conninfo_value(host) + " port=" + port +
                  " dbname=" + conninfo_value(select_database ? db.name : "postgres") +
                  " user=" + conninfo_value(db.user) + " application_name='even-projector'" +
                  " connect_timeout=" + std::to_string(std::max(db.connect_timeout_s, 2));
  const std::string password = store::resolve_password(db);
  if (!password.empty()) c += " password=" + conninfo_value(password);
  if (store::uses_tls(db)) {
    c += " sslmode=verify-full";
    if (!db.tls_ca.empty()) c += " sslrootcert=" + conninfo_value(db.tls_ca);
  } else {
    c += " sslmode=disable";
  }
  // Our quoting assumes standard conforming strings; notices ("already exists, skipping") are noise.
  // A statement that takes longer than the read timeout is cancelled, like a MySQL read timeout.
  // Keepalives do not fire while sent data is unacknowledged: tcp_user_timeout bounds that wait.
  // The server's side keeps alive too, so that a backend of a partitioned runner ends (and frees
  // its advisory lock) within about 25 s rather than the OS default of 2 hours.
  c += " keepalives=1 keepalives_idle=10 keepalives_interval=5 keepalives_count=3";
  c += " tcp_user_timeout=" + std::to_string(std::max(db.read_timeout_s, 1) * 1000);
  c += " options=" + conninfo_value("-c standard_conforming_strings=on -c client_min_messages=warning -c "
                                    "tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 -c "
                                    "statement_timeout=" + std::to_string(db.read_timeout_s * 1000));
  return c;
}

namespace {

class PostgresConnection : public QueryConnection {
 public:
  explicit PostgresConnection(const std::string& info) : conn_(info) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    // A lost connection ends the runner's session (and its advisory lock); never reconnect
    // silently underneath it.
    conn_.inhibit_reactivation(true);
#pragma GCC diagnostic pop
  }

  const QueryDialect& dialect() const override { return postgres_dialect(); }

  void execute(const std::string& sql) override { run(sql); }

  void execute_batch(const std::vector<std::string>& statements) override {
    if (statements.empty()) return;
    const std::string script = script_of(statements);
    run(script);
  }

  std::vector<QueryRow> query(const std::string& sql) override {
    const pqxx::result r = run(sql);
    std::vector<QueryRow> out;
    out.reserve(r.size());
    for (const auto& row : r) {
      QueryRow q;
      q.reserve(row.size());
      for (const auto& f : row) {
        if (f.is_null()) q.emplace_back();
        else q.emplace_back(std::string(f.c_str(), f.size()));
      }
      out.push_back(std::move(q));
    }
    return out;
  }

  bool try_lock(const std::string& name) override {
    const auto key = static_cast<std::int64_t>(std::stoull(stable_hash(name), nullptr, 16));
    const auto r = run("SELECT pg_try_advisory_lock(" + std::to_string(key) + ")");
    return !r.empty() && !r[0][0].is_null() && std::string(r[0][0].c_str()) == "t";
  }

 private:
  // Every statement goes out through the simple query protocol, as it is: the projector manages
  // the transaction itself (START TRANSACTION ... COMMIT), so no libpqxx transaction wraps it.
  pqxx::result run(const std::string& sql) {
    pqxx::nontransaction w(conn_);
    pqxx::result r = w.exec(sql);
    w.commit();
    return r;
  }

  pqxx::connection conn_;
};

class PostgresDialect : public QueryDialect {
 public:
  SqlDialect kind() const override { return SqlDialect::postgresql; }
  const char* name() const override { return "PostgreSQL"; }

  std::unique_ptr<QueryConnection> open(const config::DbOptions& db, bool select_database) const override {
    return std::make_unique<PostgresConnection>(postgres_conninfo(db, select_database));
  }

  std::string check_url(const std::string& url) const override {
    try {
      host_port(url);
      return {};
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
  }

  void create_database(const config::DbOptions& db) const override {
    const std::string name = identifier(db.name);
    auto c = open(db, false);
    std::string sql = "SELECT COUNT(*) FROM pg_database WHERE datname = ";
    append_quoted(sql, db.name);
    if (c->query_int(sql).value_or(0) > 0) return;
    try {
      c->execute("CREATE DATABASE " + name + " ENCODING 'UTF8' TEMPLATE template0");
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() != "42P04" && e.sqlstate() != "23505") throw;  // created meanwhile: fine
    }
  }

  void append_quoted(std::string& out, std::string_view text) const override {
    out += '\'';
    for (char c : text) {
      if (c == '\0') throw std::invalid_argument("PostgreSQL text cannot hold a NUL byte");
      if (c == '\'') out += '\'';
      out += c;
    }
    out += '\'';
  }

  void append_bytes(std::string& out, std::string_view bytes) const override {
    static const char* const kHex = "0123456789abcdef";
    out += "'\\x";
    for (unsigned char c : bytes) {
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
    out += "'::bytea";
  }
  bool backslash_escapes() const override { return false; }
  std::string identifier(std::string_view name) const override {
    store::identifier(name);  // validates: letters, digits and _ only
    return "\"" + std::string(name) + "\"";
  }
  bool hash_comments() const override { return false; }

  QueryErrorKind classify(const std::exception& e) const override {
    if (dynamic_cast<const pqxx::broken_connection*>(&e) || dynamic_cast<const pqxx::in_doubt_error*>(&e))
      return QueryErrorKind::lost;
    if (dynamic_cast<const pqxx::transaction_rollback*>(&e)) return QueryErrorKind::retry;
    if (const auto* s = dynamic_cast<const pqxx::sql_error*>(&e)) {
      const std::string& st = s->sqlstate();
      if (st.rfind("08", 0) == 0 || st == "57P01" || st == "57P02" || st == "57P03") return QueryErrorKind::lost;
      if (st == "40P01" || st == "40001" || st == "55P03" || st == "57014") return QueryErrorKind::retry;
      if (st == "3D000" || st == "42P01") return QueryErrorKind::missing;
      return QueryErrorKind::other;
    }
    if (dynamic_cast<const pqxx::pqxx_exception*>(&e)) return QueryErrorKind::other;
    return QueryErrorKind::foreign;
  }

  std::string describe(const std::exception& e) const override {
    std::string what = e.what();
    while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
    if (const auto* s = dynamic_cast<const pqxx::sql_error*>(&e))
      return "PostgreSQL error " + s->sqlstate() + ": " + what;
    if (dynamic_cast<const pqxx::broken_connection*>(&e)) return "PostgreSQL connection lost: " + what;
    return what;
  }

  std::string checkpoint_table_ddl(const std::string& table) const override {
    return "CREATE TABLE IF NOT EXISTS " + identifier(table) +
           " (projection VARCHAR(190) NOT NULL PRIMARY KEY, position BIGINT NOT NULL, definition_hash VARCHAR(64) NOT "
           "NULL, state VARCHAR(16) NOT NULL, events_applied BIGINT NOT NULL DEFAULT 0, head BIGINT NOT NULL DEFAULT 0,"
           " rate DOUBLE PRECISION NOT NULL DEFAULT 0, rebuild_from_head BIGINT NOT NULL DEFAULT 0,"
           " rebuild_requested SMALLINT NOT NULL DEFAULT 0, error TEXT NULL, updated_at_us BIGINT NOT NULL DEFAULT 0)";
  }
  std::string on_conflict_update(const std::string& key) const override {
    return "ON CONFLICT (" + key + ") DO UPDATE SET";
  }
  std::string inserted(const std::string& column) const override { return "EXCLUDED." + column; }
};

}  // namespace

const QueryDialect& postgres_dialect() {
  static const PostgresDialect d;
  return d;
}

}  // namespace even::projector
