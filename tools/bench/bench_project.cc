// even-bench project: the rebuild of a simple SQL-config projection (one upsert per event)
// through the projector code (ProjectionRunner: catch-up subscription through a real even-reader
// and even-dispatcher, batches committed with the checkpoint in the query database), against the
// same upsert statements issued directly in batches, into the same MariaDB, in the same run.
//
// The N events are bulk-loaded straight into the store with multi-row INSERTs (the writer is not
// what this measures), into a fresh store database and query database, both dropped afterwards.
//
// With --query-db-url postgresql://HOST:PORT the same projection (its upsert in PostgreSQL's
// dialect) is also rebuilt into a PostgreSQL query database in each round, and the line adds
// pg_events_per_s and its ratio to the MariaDB rebuild of the same run.
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "bench/bench.h"
#include "even/client/client.h"
#include "even/common/net.h"
#include "even/common/store/mysql.h"
#include "even/projector/projection_runner.h"
#include "even/projector/sql_projection.h"
#include "projector/query_db.h"

namespace even::bench {

namespace {

constexpr const char* kUpsert =
    "INSERT INTO totals (account, n, amount) VALUES (:stream, 1, :payload.amount) "
    "ON DUPLICATE KEY UPDATE n = n + 1, amount = amount + VALUES(amount)";
constexpr const char* kCreate =
    "CREATE TABLE IF NOT EXISTS totals (account VARCHAR(200) NOT NULL PRIMARY KEY, n BIGINT NOT NULL, "
    "amount BIGINT NOT NULL) ENGINE=InnoDB";

// The same read model for a PostgreSQL query database.
constexpr const char* kUpsertPg =
    "INSERT INTO totals (account, n, amount) VALUES (:stream, 1, :payload.amount) "
    "ON CONFLICT (account) DO UPDATE SET n = totals.n + 1, amount = totals.amount + EXCLUDED.amount";
constexpr const char* kCreatePg =
    "CREATE TABLE IF NOT EXISTS totals (account VARCHAR(200) NOT NULL PRIMARY KEY, n BIGINT NOT NULL, "
    "amount BIGINT NOT NULL)";

std::int64_t amount_of(std::uint64_t i) { return static_cast<std::int64_t>(i * 7919 % 1000) + 1; }

// N Deposited events into `accounts` streams acct-<k>, round-robin, payload {"amount": A}.
void bulk_load(const config::DbOptions& db, std::uint64_t events, std::uint64_t accounts) {
  auto conn = store::Connection::open(db);
  std::mt19937_64 rng(7);
  const std::int64_t now_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto start = Clock::now();
  std::string sql;
  for (std::uint64_t done = 0; done < events;) {
    sql = "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
          "payload_format) VALUES ";
    for (std::uint64_t k = 0; k < 2000 && done < events; ++k, ++done) {
      std::uint64_t id[2] = {rng(), rng()};
      if (k) sql += ',';
      sql += '(';
      store::append_hex(sql, id, sizeof id);
      sql += ",'acct-" + std::to_string(done % accounts) + "'," + std::to_string(done / accounts + 1) +
             ",'acct','Deposited'," + std::to_string(now_us) + ",'','{\"amount\":" + std::to_string(amount_of(done)) +
             "}',1)";
    }
    conn->execute(sql);
  }
  std::cerr << "[bench] loaded " << events << " events in " << seconds_since(start) << " s\n";
}

void drop_database(const config::DbOptions& db) {
  const auto& d = projector::query_dialect(db.url);
  d.open(db, false)->execute("DROP DATABASE IF EXISTS " + d.identifier(db.name));
}

void recreate_database(const config::DbOptions& db) {
  drop_database(db);
  projector::query_dialect(db.url).create_database(db);
}

// The same upserts, built directly (untimed) and sent `batch` per transaction, one round trip each.
// With multi_row, one multi-row INSERT ... ON DUPLICATE KEY UPDATE per transaction instead.
double raw_upserts(const config::DbOptions& qdb, std::uint64_t events, std::uint64_t accounts, std::size_t batch,
                   bool multi_row) {
  recreate_database(qdb);
  auto db = qdb;
  db.multi_statements = true;
  auto conn = store::Connection::open(db);
  conn->execute(kCreate);
  std::vector<std::pair<std::string, int>> scripts;  // (text, statements)
  for (std::uint64_t i = 0; i < events;) {
    std::string s = "START TRANSACTION";
    int count = 1;
    if (multi_row) {
      s += ";\nINSERT INTO totals (account, n, amount) VALUES ";
      ++count;
    }
    for (std::size_t k = 0; k < batch && i < events; ++k, ++i) {
      std::string account = "acct-" + std::to_string(i % accounts);
      if (multi_row) {
        if (k) s += ',';
        s += '(';
        store::append_quoted(s, account);
        s += ", 1, " + std::to_string(amount_of(i)) + ")";
      } else {
        s += ";\nINSERT INTO totals (account, n, amount) VALUES (";
        store::append_quoted(s, account);
        s += ", 1, " + std::to_string(amount_of(i)) +
             ") ON DUPLICATE KEY UPDATE n = n + 1, amount = amount + VALUES(amount)";
        ++count;
      }
    }
    if (multi_row) s += " ON DUPLICATE KEY UPDATE n = n + VALUES(n), amount = amount + VALUES(amount)";
    s += ";\nCOMMIT";
    scripts.emplace_back(std::move(s), count + 1);
  }
  auto start = Clock::now();
  for (const auto& [text, count] : scripts) conn->execute_script(text, count, -1);
  const double secs = seconds_since(start);
  auto n = conn->query_int("SELECT SUM(n) FROM totals").value_or(0);
  if (static_cast<std::uint64_t>(n) != events) throw std::runtime_error("raw upserts: wrong total");
  return static_cast<double>(events) / secs;
}

// Rebuilds `def` into `qdb` (recreated first) through a ProjectionRunner; events/s from start to
// the store's head, after checking the read model counts every event once.
double projector_rebuild(client::Client& c, const projector::SqlProjectionDef& def, const config::DbOptions& qdb,
                         std::size_t batch, GlobalSeq head, std::uint64_t events,
                         const std::shared_ptr<spdlog::logger>& log) {
  recreate_database(qdb);
  projector::RunnerOptions ro;
  ro.max_batch_events = batch;
  ro.rebuild_at_start = true;
  ro.progress_interval = std::chrono::milliseconds(1000);
  projector::ProjectionRunner runner(c, projector::make_sql_projection(def), qdb, ro, log);
  auto start = Clock::now();
  runner.start();
  while (runner.status().position < head) {
    if (runner.finished()) throw std::runtime_error("the projection stopped: " + runner.status().error);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double secs = seconds_since(start);
  runner.stop();
  auto q = projector::query_dialect(qdb.url).open(qdb);
  if (static_cast<std::uint64_t>(q->query_int("SELECT SUM(n) FROM totals").value_or(0)) != events)
    throw std::runtime_error("the projection's read model does not count every event once (" + qdb.url + ")");
  std::cerr << "[bench] " << projector::query_dialect(qdb.url).name() << ": " << runner.status().batches
            << " batches\n";
  return static_cast<double>(events) / secs;
}

projector::SqlProjectionDef totals_def(const char* create, const char* upsert) {
  projector::SqlProjectionDef d;
  d.name = "bench_totals";
  d.event_types = {"Deposited"};
  d.setup = {create};
  d.reset = {"DROP TABLE IF EXISTS totals"};
  d.handlers["Deposited"] = {upsert};
  d.definition_hash = projector::stable_hash(std::string(create) + upsert);
  return d;
}

}  // namespace

int bench_project(int argc, char** argv) {
  namespace po = config::po;
  config::DbOptions db, pg;
  std::uint64_t events = 100000, accounts = 1000;
  std::size_t batch = 1000;
  int rounds = 2;
  po::options_description desc("even-bench project options");
  desc.add_options()
      ("events", po::value(&events)->default_value(events), "events to load and project")
      ("accounts", po::value(&accounts)->default_value(accounts), "streams (read-model rows) the events go to")
      ("batch", po::value(&batch)->default_value(batch), "events per transaction, projector and raw alike")
      ("rounds", po::value(&rounds)->default_value(rounds), "each measurement is taken this many times; the best counts")
      ("query-db-url", po::value(&pg.url)->default_value(""),
       "also rebuild into PostgreSQL at this postgresql://HOST:PORT (a scratch database, dropped afterwards)")
      ("query-db-user", po::value(&pg.user)->default_value("postgres"), "its user (with --query-db-url)");
  bool insecure = false;
  add_insecure_option(desc, insecure);
  config::add_db_options(desc, db);
  auto vm = config::parse(argc, argv, desc, "Usage: even-bench project --events N [options]");
  if (!vm) return 0;
  if (events == 0 || accounts == 0 || batch == 0 || rounds < 1) throw po::error("all counts must be >= 1");
  const bool with_pg = !pg.url.empty();
  if (with_pg && projector::query_dialect(pg.url).kind() != projector::SqlDialect::postgresql)
    throw po::error("--query-db-url must be a postgresql:// url (MariaDB is measured always)");
  auto server = ensure_database(db, !(*vm)["db-url"].defaulted());
  ScratchStore scratch(server);
  const auto& s = scratch.db();
  config::DbOptions qdb = s;
  qdb.name = s.name + "_q";
  pg.name = qdb.name;
  struct DropOnExit {
    config::DbOptions db;
    bool used;
    ~DropOnExit() {
      try {
        if (used) drop_database(db);
      } catch (...) {
      }
    }
  } drop_query{qdb, true}, drop_pg{pg, with_pg};
  std::cerr << "[bench] store '" << s.name << "', query database '" << qdb.name << "' at " << s.url << "\n";
  bulk_load(s, events, accounts);

  const std::string reader_ep = "tcp://127.0.0.1:" + std::to_string(net::free_loopback_port());
  const std::string pull_ep = "tcp://127.0.0.1:" + std::to_string(net::free_loopback_port());
  const std::string pub_ep = "tcp://127.0.0.1:" + std::to_string(net::free_loopback_port());
  std::vector<std::string> dbf = config::db_flags(s);
  dbf.insert(dbf.end(), {"--log-level", "warn"});
  BenchKeys keys(insecure);
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.end(), dbf.begin(), dbf.end());
    a.insert(a.end(), keys.service_args().begin(), keys.service_args().end());
    return a;
  };
  ServiceProcess reader("reader", with({"--reader-endpoint", reader_ep}));
  ServiceProcess dispatcher("dispatcher", with({"--dispatcher-pull-endpoint", pull_ep, "--dispatcher-pub-endpoint",
                                                pub_ep, "--dispatcher.heartbeat-ms", "100"}));
  client::ClientOptions co;
  keys.apply(co);
  co.reader_endpoint = reader_ep;
  co.feed_endpoint = pub_ep;
  co.timeout = std::chrono::seconds(60);
  client::Client c(co);
  const GlobalSeq head = c.head();  // also waits for the reader
  if (head.value() < events) throw std::runtime_error("the reader sees fewer events than loaded");

  config::LogOptions lo;
  lo.level = "info";
  auto log = config::make_logger("projector", lo);

  double best_projector = 0, best_raw = 0, best_multirow = 0, best_pg = 0;
  for (int round = 1; round <= rounds; ++round) {
    const double rate = projector_rebuild(c, totals_def(kCreate, kUpsert), qdb, batch, head, events, log);
    const double pg_rate =
        with_pg ? projector_rebuild(c, totals_def(kCreatePg, kUpsertPg), pg, batch, head, events, log) : 0;
    const double raw = raw_upserts(qdb, events, accounts, batch, false);
    const double multirow = raw_upserts(qdb, events, accounts, batch, true);
    std::cerr << "[bench] round " << round << ": projector " << rate << " events/s";
    if (with_pg) std::cerr << ", into PostgreSQL " << pg_rate << " events/s";
    std::cerr << ", raw upserts " << raw << " events/s, raw multi-row " << multirow << " events/s\n";
    best_pg = std::max(best_pg, pg_rate);
    best_projector = std::max(best_projector, rate);
    best_raw = std::max(best_raw, raw);
    best_multirow = std::max(best_multirow, multirow);
  }
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(0);
  out << "{\"bench\":\"project\",\"events\":" << events << ",\"events_per_s\":" << best_projector
      << ",\"raw_events_per_s\":" << best_raw;
  out.precision(3);
  out << ",\"ratio_to_raw\":" << best_projector / best_raw;
  out.precision(0);
  out << ",\"raw_multirow_events_per_s\":" << best_multirow;
  if (with_pg) {
    out << ",\"pg_events_per_s\":" << best_pg;
    out.precision(3);
    out << ",\"pg_ratio_to_mariadb\":" << best_pg / best_projector;
    out.precision(0);
  }
  out << ",\"batch\":" << batch << ",\"accounts\":" << accounts << "}";
  std::cout << out.str() << std::endl;
  return 0;
}

}  // namespace even::bench
