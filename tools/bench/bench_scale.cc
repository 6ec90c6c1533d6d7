// even-bench scale: how Even's costs change as the store grows. One scratch store is bulk-loaded
// to each size in turn (100k streams over 100 categories, 20 event types, 200-byte payloads), and
// at each size every case is measured against its raw MariaDB baseline, in the same run:
//
//   append_buffered, append_serial   64 clients through even-writer vs multi-row INSERTs
//   read_stream                      a random stream's first page: p50/p99 latency vs the SELECT
//   read_all, read_category, read_type   pages from random positions vs the same SELECTs
//   catch_up                         a new subscriber from position 1 to live vs one streamed SELECT
//   rebuild                          a SQL projection's rebuild vs the same SELECT and upserts
//   rss                              each service's resident and peak memory
//
// One JSON line per size and case on stdout, with ratio_to_raw and ratio_to_empty (the case's
// value at size 0 divided into it); at the end a PNG chart per figure (gnuplot) against size.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "bench/bench.h"
#include "even/client/client.h"
#include "even/client/subscription.h"
#include "even/common/net.h"
#include "even/common/store/events.h"
#include "even/common/store/mysql.h"
#include "even/projector/projection_runner.h"
#include "even/projector/sql_projection.h"

namespace even::bench {

namespace {

struct ScaleOptions {
  std::vector<std::uint64_t> sizes;
  std::uint64_t streams = 100000;
  int categories = 100, types = 20, payload_bytes = 200, clients = 64;
  double seconds = 5;
  int append_rounds = 3;               // of each append case, median reported
  std::size_t stream_read_max = 100;   // events of a read_stream
  std::size_t page_events = 1000;      // events of one read from a random position
  std::string charts_dir = "scale-charts";
};

// The loaded store's shape: stream k is "cat<k mod categories>-<k>", its events numbered 1, 2, ...
// in load order; each event's type is one of Type0 ... Type<types-1>.
class StoreShape {
 public:
  explicit StoreShape(const ScaleOptions& o) : o_(o), versions_(o.streams, 0), rng_(20261207) {}

  // Loads events until `size` of them were loaded in all (the append cases' events come on top);
  // returns the seconds it took (0: nothing to load).
  double grow_to(const config::DbOptions& db, std::uint64_t size) {
    if (loaded_count_ >= size) return 0;
    const std::uint64_t count = size - loaded_count_;
    const std::string payload =
        "{\"data\":\"" + std::string(static_cast<std::size_t>(std::max(0, o_.payload_bytes - 11)), 'x') + "\"}";
    std::cerr << "[bench] loading " << count << " events (" << size << " loaded in all)\n";
    loaded_count_ = size;
    return bulk_load(db, count, [&](std::uint64_t, BulkRow& row) {
      const auto k = rng_() % o_.streams;
      row.stream = stream(k);
      row.stream_seq = ++versions_[k];
      row.type = "Type" + std::to_string(rng_() % static_cast<std::uint64_t>(o_.types));
      row.payload = payload;
    });
  }
  std::string stream(std::uint64_t k) const {
    return "cat" + std::to_string(k % static_cast<std::uint64_t>(o_.categories)) + "-" + std::to_string(k);
  }
  bool loaded() const { return loaded_count_ > 0; }
  // A random stream that has events (loaded ones; else one of `fallback`).
  std::string random_stream(std::mt19937_64& rng, const std::vector<std::string>& fallback) const {
    if (!loaded()) return fallback[rng() % fallback.size()];
    for (;;)
      if (auto k = rng() % o_.streams; versions_[k] > 0) return stream(k);
  }

 private:
  const ScaleOptions& o_;
  std::vector<std::int64_t> versions_;
  std::mt19937_64 rng_;
  std::uint64_t loaded_count_ = 0;
};

// One JSON line: the size, the case and its figures.
struct Line {
  std::uint64_t size;
  std::string name;
  std::map<std::string, double> values;
};

class Report {
 public:
  // Prints the line, with ratio_to_empty for `key` when the first size measured it.
  void print(const Line& l, const std::string& key) {
    auto& first = first_[l.name];
    std::ostringstream out;
    out.setf(std::ios::fixed);
    out.precision(3);
    out << "{\"bench\":\"scale\",\"size\":" << l.size << ",\"case\":\"" << l.name << "\"";
    for (const auto& [k, v] : l.values) out << ",\"" << k << "\":" << v;
    if (!key.empty()) {
      const double v = l.values.at(key);
      if (first == 0) first = v;
      if (first > 0) out << ",\"ratio_to_empty\":" << v / first;
    }
    out << "}";
    std::cout << out.str() << std::endl;
    lines_.push_back(l);
  }
  const std::vector<Line>& lines() const { return lines_; }

 private:
  std::map<std::string, double> first_;
  std::vector<Line> lines_;
};

// Whether the store fits its server's buffer pool: the events table's size (rows and indexes, as
// InnoDB estimates it), the pool's size, and the pool's page reads from disk and read requests
// so far (their difference over a size's cases gives its hit ratio).
struct PoolStats {
  double store_mb = 0, pool_mb = 0, disk_reads = 0, read_requests = 0;
};
PoolStats pool_stats(const config::DbOptions& db) {
  auto c = store::Connection::open(db);
  PoolStats p;
  auto rs = c->query(
      "SELECT (data_length + index_length) / 1048576 FROM information_schema.TABLES WHERE table_schema = DATABASE() "
      "AND table_name = 'events'");
  if (rs->next()) p.store_mb = rs->getDouble(1);
  p.pool_mb = static_cast<double>(c->query_int("SELECT @@innodb_buffer_pool_size").value_or(0)) / 1048576.0;
  rs = c->query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_buffer_pool_reads', 'Innodb_buffer_pool_read_requests')");
  while (rs->next()) {
    const double v = static_cast<double>(rs->getUInt64(2));
    (rs->getString(1) == "Innodb_buffer_pool_reads" ? p.disk_reads : p.read_requests) = v;
  }
  return p;
}

// Brings InnoDB back to where an empty store's run starts before a size is measured: a bulk load
// leaves its pages dirty and the redo log's checkpoint far behind (1M events here: 14,599 dirty
// pages, checkpoint age 206 MB of a 256 MB log, which InnoDB does not flush while idle), and the
// first case measured would pay for flushing the load. Writes the run's tables' pages out (FLUSH
// TABLES ... FOR EXPORT) and waits, up to a minute and while it falls, for the checkpoint to catch
// up. Returns the seconds it took; a server that refuses (privileges) is measured as it is, with a
// warning.
double settle_store(const config::DbOptions& db) {
  const auto start = Clock::now();
  auto c = store::Connection::open(db);
  auto status = [&](const char* name) -> std::optional<double> {
    auto rs = c->query(std::string("SHOW GLOBAL STATUS LIKE '") + name + "'");
    if (!rs->next()) return std::nullopt;
    return std::stod(std::string(rs->getString(2)));
  };
  const auto dirty = status("Innodb_buffer_pool_pages_dirty");
  const auto age = status("Innodb_checkpoint_age");
  try {
    // Every table of the scratch store and of the rebuild's query database (an older dirty page
    // anywhere holds the checkpoint back).
    std::string tables;
    auto rs = c->query(
        "SELECT CONCAT('`', table_schema, '`.`', table_name, '`') FROM information_schema.TABLES WHERE engine = "
        "'InnoDB' AND table_schema IN (DATABASE(), CONCAT(DATABASE(), '_q'))");
    while (rs->next()) tables += (tables.empty() ? "" : ", ") + std::string(rs->getString(1));
    rs.reset();
    if (!tables.empty()) c->execute("FLUSH TABLES " + tables + " FOR EXPORT");
    c->execute("UNLOCK TABLES");
  } catch (const sql::SQLException& e) {
    std::cerr << "[bench] cannot flush the loaded tables (" << store::describe(e)
              << "): this size is measured while InnoDB still flushes the load\n";
    return seconds_since(start);
  }
  // Below innodb_adaptive_flushing_lwm percent of the redo log InnoDB does not flush for the
  // checkpoint (an idle server keeps that much): settled.
  double settled_bytes = 0;
  try {
    auto rs = c->query("SELECT @@innodb_log_file_size * @@innodb_adaptive_flushing_lwm / 100");
    if (rs->next()) settled_bytes = rs->getDouble(1);
  } catch (const sql::SQLException&) {  // not MariaDB's variables: measured as it is
  }
  // Waits while the age falls (a new lowest value within 2 s); other writers on the same server
  // keep it moving without settling it, and then the size is measured as it is.
  std::optional<double> now_age = status("Innodb_checkpoint_age"), lowest = now_age;
  auto last_low = Clock::now();
  while (now_age && *now_age > settled_bytes && seconds_since(start) < 60 && seconds_since(last_low) < 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    now_age = status("Innodb_checkpoint_age");
    if (now_age && *now_age < *lowest) {
      lowest = now_age;
      last_low = Clock::now();
    }
  }
  std::cerr << std::fixed << std::setprecision(1) << "[bench] store settled in " << seconds_since(start)
            << " s: dirty pages " << dirty.value_or(0) << " -> " << status("Innodb_buffer_pool_pages_dirty").value_or(0)
            << ", checkpoint age " << age.value_or(0) / 1048576 << " -> " << now_age.value_or(0) / 1048576
            << " MB\n";
  return seconds_since(start);
}

double head_of(const config::DbOptions& db) {
  return static_cast<double>(store::Connection::open(db)->query_int("SELECT MAX(global_seq) FROM events").value_or(0));
}

// The services of the run, on the scratch store, started once: the writer pushes to the
// dispatcher, the reader serves reads, the client reaches all three.
struct Services {
  Services(const config::DbOptions& db, const BenchKeys& keys) {
    auto ep = [] { return "tcp://127.0.0.1:" + std::to_string(net::free_loopback_port()); };
    writer_ep = ep(), reader_ep = ep(), pull_ep = ep(), pub_ep = ep();
    std::vector<std::string> common = config::db_flags(db);
    common.insert(common.end(), {"--log-level", "warn"});
    common.insert(common.end(), keys.service_args().begin(), keys.service_args().end());
    auto with = [&](std::vector<std::string> a) {
      a.insert(a.end(), common.begin(), common.end());
      return a;
    };
    dispatcher = std::make_unique<ServiceProcess>(
        "dispatcher", with({"--dispatcher-pull-endpoint", pull_ep, "--dispatcher-pub-endpoint", pub_ep,
                            "--dispatcher.heartbeat-ms", "100"}));
    reader = std::make_unique<ServiceProcess>("reader", with({"--reader-endpoint", reader_ep}));
    writer = std::make_unique<ServiceProcess>(
        "writer", with({"--writer-endpoint", writer_ep, "--dispatcher-pull-endpoint", pull_ep}));
    client::ClientOptions co;
    keys.apply(co);
    co.writer_endpoint = writer_ep;
    co.reader_endpoint = reader_ep;
    co.feed_endpoint = pub_ep;
    co.timeout = std::chrono::seconds(60);
    client = std::make_unique<client::Client>(co);
    client->head();  // waits for the reader
    client->ping_writer(std::chrono::seconds(30));
  }
  std::string writer_ep, reader_ep, pull_ep, pub_ep;
  std::unique_ptr<ServiceProcess> dispatcher, reader, writer;
  std::unique_ptr<client::Client> client;
};

// append_buffered / append_serial: the writer's run between two halves of the raw baseline, in
// `append_rounds` rounds (new streams each); the line has the median round's figures (rounds
// ordered by the writer's events/s) and the slowest and fastest round. One 5 s run moved by
// 15-35% between runs on a quiet host, and raw with it.
Line measure_append(const config::DbOptions& db, Services& s, const BenchKeys& keys, const ScaleOptions& o,
                    std::uint64_t size, bool serial, std::vector<std::string>& streams_written) {
  struct Round {
    double eps, raw, p50, p99, errors;
  };
  std::vector<Round> rounds;
  for (int round = 0; round < o.append_rounds; ++round) {
    const std::string tag =
        "bench-" + std::to_string(size) + (serial ? "s" : "b") + (round ? "r" + std::to_string(round) : "");
    auto raw_half = [&](const char* half) {
      return raw_insert_rate(db, o.clients, o.seconds / 2, o.payload_bytes, o.clients, "raw" + tag + half + "-");
    };
    const double raw_before = raw_half("a");
    LoadShape shape;
    shape.serial = serial;
    shape.clients = o.clients;
    shape.payload_bytes = o.payload_bytes;
    shape.stream_prefix = tag + "-";
    const AppendRun run = run_clients(s.writer_ep, keys, shape, o.seconds);
    const double raw_after = raw_half("z");
    for (int c = 0; c < o.clients; ++c) streams_written.push_back(shape.stream_prefix + std::to_string(c));
    rounds.push_back({static_cast<double>(run.events) / run.seconds, (raw_before + raw_after) / 2, run.latency.p50,
                      run.latency.p99, static_cast<double>(run.errors)});
  }
  std::sort(rounds.begin(), rounds.end(), [](const Round& a, const Round& b) { return a.eps < b.eps; });
  const Round& m = rounds[rounds.size() / 2];
  double errors = 0;
  for (const auto& r : rounds) errors += r.errors;
  return {size,
          serial ? "append_serial" : "append_buffered",
          {{"events_per_s", m.eps},
           {"raw_events_per_s", m.raw},
           {"ratio_to_raw", m.raw > 0 ? m.eps / m.raw : 0},
           {"p50_ms", m.p50},
           {"p99_ms", m.p99},
           {"rounds", static_cast<double>(rounds.size())},
           {"events_per_s_min", rounds.front().eps},
           {"events_per_s_max", rounds.back().eps},
           {"errors", errors}}};
}

// read_stream: the first page (up to stream_read_max events) of random streams, through the
// reader and by the same SELECT, alternating, for `seconds`. Each side picks its own streams: the
// SELECT of the stream the reader just read would find its pages in the buffer pool, which a store
// larger than the pool does not give a read of a stream nobody touched.
Line measure_read_stream(const config::DbOptions& db, Services& s, const StoreShape& shape, const ScaleOptions& o,
                         std::uint64_t size, const std::vector<std::string>& fallback) {
  auto conn = store::Connection::open(db);
  std::mt19937_64 rng(size + 1), raw_rng(size + 2);
  std::vector<double> reader_ms, raw_ms;
  std::uint64_t events = 0;
  const auto start = Clock::now();
  while (seconds_since(start) < o.seconds) {
    const std::string stream = shape.random_stream(rng, fallback);
    auto t0 = Clock::now();
    for (const auto& e : s.client->read_stream(stream, StreamSeq(1), client::Direction::forward, o.stream_read_max)) {
      (void)e;
      ++events;
    }
    reader_ms.push_back(seconds_since(t0) * 1000);
    std::string sql = std::string("SELECT ") + store::kEventColumns + " FROM events WHERE stream = ";
    store::append_quoted(sql, shape.random_stream(raw_rng, fallback));
    sql += " ORDER BY stream_seq LIMIT " + std::to_string(o.stream_read_max);
    t0 = Clock::now();
    auto rs = conn->query(sql);
    while (rs->next()) store::read_event_row(*rs);
    raw_ms.push_back(seconds_since(t0) * 1000);
  }
  const auto p = percentiles(reader_ms), raw = percentiles(raw_ms);
  return {size,
          "read_stream",
          {{"p50_ms", p.p50},
           {"p99_ms", p.p99},
           {"raw_p50_ms", raw.p50},
           {"raw_p99_ms", raw.p99},
           {"reads", static_cast<double>(reader_ms.size())},
           {"events_per_read", reader_ms.empty() ? 0 : static_cast<double>(events) / static_cast<double>(reader_ms.size())}}};
}

// read_all / read_category / read_type: page_events events (or up to the end) from random
// positions, through the reader and by the same SELECT, alternating, for `seconds`; each side
// its own positions (see measure_read_stream).
Line measure_read_from(const config::DbOptions& db, Services& s, const ScaleOptions& o, std::uint64_t size,
                       const std::string& name, const std::function<client::Filter(std::mt19937_64&)>& filter) {
  auto conn = store::Connection::open(db);
  std::mt19937_64 rng(size + 7), raw_rng(size + 8);
  const std::uint64_t head = s.client->head().value();
  double reader_s = 0, raw_s = 0;
  std::uint64_t reader_events = 0, raw_events = 0;
  const auto start = Clock::now();
  while (seconds_since(start) < o.seconds) {
    const std::uint64_t from = 1 + rng() % std::max<std::uint64_t>(1, head);
    const client::Filter f = filter(rng);
    auto t0 = Clock::now();
    for (const auto& e : s.client->read_all(GlobalSeq(from), f, o.page_events)) {
      (void)e;
      ++reader_events;
    }
    reader_s += seconds_since(t0);
    const std::uint64_t raw_from = 1 + raw_rng() % std::max<std::uint64_t>(1, head);
    const client::Filter raw_f = filter(raw_rng);
    // The reader's index for each filter (the optimizer, left alone, may scan the primary key).
    const char* index = !raw_f.categories.empty()    ? "ix_events_category"
                        : !raw_f.event_types.empty() ? "ix_events_type"
                                                     : "PRIMARY";
    std::string sql = std::string("SELECT ") + store::kEventColumns + " FROM events FORCE INDEX (" + index +
                      ") WHERE global_seq >= " + std::to_string(raw_from);
    for (const auto& c : raw_f.categories) sql += " AND category = ", store::append_quoted(sql, c);
    for (const auto& t : raw_f.event_types) sql += " AND event_type = ", store::append_quoted(sql, t);
    sql += " ORDER BY global_seq LIMIT " + std::to_string(o.page_events);
    t0 = Clock::now();
    auto rs = conn->query_streaming(sql);
    while (rs->next()) {
      store::read_event_row(*rs);
      ++raw_events;
    }
    raw_s += seconds_since(t0);
  }
  const double eps = static_cast<double>(reader_events) / reader_s, raw = static_cast<double>(raw_events) / raw_s;
  return {size, name, {{"events_per_s", eps}, {"raw_events_per_s", raw}, {"ratio_to_raw", raw > 0 ? eps / raw : 0},
                       {"events", static_cast<double>(reader_events)}}};
}

// catch_up: a new subscriber from position 1 until it is live, against one streamed SELECT of
// the same rows.
Line measure_catch_up(const config::DbOptions& db, Services& s, std::uint64_t size) {
  const std::uint64_t head = s.client->head().value();
  std::atomic<std::uint64_t> seen{0};
  const auto start = Clock::now();
  double secs = 0;
  {
    client::CatchUpSubscription sub(*s.client, GlobalSeq(1), {}, [&](const RecordedEvent&) { ++seen; });
    auto last_report = start;
    while (!(sub.live() && sub.position().value() >= head)) {
      if (sub.error()) std::rethrow_exception(sub.error());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if (seconds_since(last_report) >= 5) {
        std::cerr << "[bench] catch-up at " << sub.position().value() << "/" << head << "\n";
        last_report = Clock::now();
      }
    }
    secs = seconds_since(start);
  }
  auto conn = store::Connection::open(db);
  std::uint64_t raw_events = 0;
  const auto raw_start = Clock::now();
  auto rs = conn->query_streaming(std::string("SELECT ") + store::kEventColumns +
                                  " FROM events WHERE global_seq <= " + std::to_string(head) + " ORDER BY global_seq");
  while (rs->next()) {
    store::read_event_row(*rs);
    ++raw_events;
  }
  const double raw_secs = seconds_since(raw_start);
  const double eps = static_cast<double>(seen.load()) / secs, raw = static_cast<double>(raw_events) / raw_secs;
  return {size, "catch_up", {{"events_per_s", eps}, {"raw_events_per_s", raw}, {"ratio_to_raw", eps / raw},
                             {"events", static_cast<double>(seen.load())}, {"seconds", secs}}};
}

constexpr const char* kCountsCreate =
    "CREATE TABLE IF NOT EXISTS per_stream (stream VARBINARY(200) NOT NULL PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB";
constexpr const char* kCountsUpsert = "INSERT INTO per_stream (stream, n) VALUES (:stream, 1) ON DUPLICATE KEY UPDATE n = n + 1";

// rebuild: a SQL projection (events per stream, for the types Type0 and BenchEvent) rebuilt from
// position 1 through the projector's runner, against a streamed SELECT of the same events and
// the same upserts sent in batches of 1000 per transaction.
Line measure_rebuild(const config::DbOptions& db, Services& s, std::uint64_t size) {
  const std::vector<std::string> types = {"Type0", "BenchEvent"};
  config::DbOptions qdb = db;
  qdb.name = db.name + "_q";
  auto recreate = [&] {
    auto c = store::Connection::open(qdb, false);
    c->execute("DROP DATABASE IF EXISTS " + store::identifier(qdb.name));
    c->execute("CREATE DATABASE " + store::identifier(qdb.name));
  };
  projector::SqlProjectionDef def;
  def.name = "scale_counts";
  def.event_types = types;
  def.setup = {kCountsCreate};
  def.reset = {"DROP TABLE IF EXISTS per_stream"};
  for (const auto& t : types) def.handlers[t] = {kCountsUpsert};
  def.definition_hash = projector::stable_hash(std::string(kCountsCreate) + kCountsUpsert);
  config::LogOptions lo;
  lo.level = "warn";
  auto log = config::make_logger("projector", lo);
  const GlobalSeq head = s.client->head();

  recreate();
  projector::RunnerOptions ro;
  ro.rebuild_at_start = true;
  projector::ProjectionRunner runner(*s.client, projector::make_sql_projection(def), qdb, ro, log);
  const auto start = Clock::now();
  runner.start();
  while (runner.status().position < head) {
    if (runner.finished()) throw std::runtime_error("the projection stopped: " + runner.status().error);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double secs = seconds_since(start);
  runner.stop();
  auto q = store::Connection::open(qdb);
  const auto projected = static_cast<std::uint64_t>(q->query_int("SELECT SUM(n) FROM per_stream").value_or(0));

  // The raw way: the same events selected, the same upserts, 1000 per transaction.
  recreate();
  auto qdb_multi = qdb;
  qdb_multi.multi_statements = true;
  auto qc = store::Connection::open(qdb_multi);
  qc->execute(kCountsCreate);
  auto conn = store::Connection::open(db);
  const auto raw_start = Clock::now();
  auto rs = conn->query_streaming("SELECT stream FROM events WHERE event_type IN ('Type0', 'BenchEvent') AND "
                                  "global_seq <= " + std::to_string(head.value()) + " ORDER BY global_seq");
  std::uint64_t raw_events = 0;
  std::string script;
  int statements = 0;
  auto flush = [&] {
    if (statements == 0) return;
    script += ";COMMIT";
    qc->execute_script(script, statements + 2, -1);
    script.clear();
    statements = 0;
  };
  while (rs->next()) {
    if (statements == 0) script = "START TRANSACTION";
    auto st = rs->getString(1);
    script += ";INSERT INTO per_stream (stream, n) VALUES (";
    store::append_quoted(script, std::string_view(st.c_str(), st.length()));
    script += ", 1) ON DUPLICATE KEY UPDATE n = n + 1";
    ++raw_events;
    if (++statements == 1000) flush();
  }
  flush();
  const double raw_secs = seconds_since(raw_start);
  store::Connection::open(qdb, false)->execute("DROP DATABASE IF EXISTS " + store::identifier(qdb.name));
  if (projected != raw_events)
    throw std::runtime_error("the projection counted " + std::to_string(projected) + " events, the raw way " +
                             std::to_string(raw_events));
  const double eps = static_cast<double>(projected) / secs, raw = static_cast<double>(raw_events) / raw_secs;
  return {size, "rebuild", {{"events_per_s", eps}, {"raw_events_per_s", raw}, {"ratio_to_raw", eps / raw},
                            {"events", static_cast<double>(projected)}}};
}

double current_rss_mb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

// The charts: one PNG per figure, each a set of (case, field) series against size.
struct Figure {
  const char* file;
  const char* title;
  const char* ylabel;
  std::vector<std::pair<std::string, std::string>> series;  // case, field
  bool log_y = false;
};

void write_charts(const Report& report, const std::string& dir) {
  const std::vector<Figure> figures = {
      {"scale-appends", "Appends, 64 clients", "events/s",
       {{"append_buffered", "events_per_s"}, {"append_serial", "events_per_s"},
        {"append_buffered", "raw_events_per_s"}}},
      {"scale-reads", "Reads from random positions, catch-up, rebuild", "events/s",
       {{"read_all", "events_per_s"}, {"read_category", "events_per_s"}, {"read_type", "events_per_s"},
        {"catch_up", "events_per_s"}, {"rebuild", "events_per_s"}, {"read_all", "raw_events_per_s"}},
       true},
      {"scale-read-stream", "Read of a random stream (first page)", "ms",
       {{"read_stream", "p50_ms"}, {"read_stream", "p99_ms"}, {"read_stream", "raw_p99_ms"}}},
      {"scale-rss", "Peak resident memory", "MiB",
       {{"rss", "writer_peak_mb"}, {"rss", "reader_peak_mb"}, {"rss", "dispatcher_peak_mb"}, {"rss", "bench_peak_mb"}}},
  };
  std::filesystem::create_directories(dir);
  for (const auto& f : figures) {
    const std::string dat = dir + "/" + f.file + ".dat";
    std::ofstream out(dat);
    std::map<std::uint64_t, std::vector<double>> rows;
    for (std::size_t i = 0; i < f.series.size(); ++i)
      for (const auto& l : report.lines())
        if (l.name == f.series[i].first) {
          auto& row = rows[l.size];
          row.resize(f.series.size(), 0);
          auto v = l.values.find(f.series[i].second);
          row[i] = v == l.values.end() ? 0 : v->second;
        }
    out << "# size";
    for (const auto& [c, field] : f.series) out << " " << c << ":" << field;
    out << "\n";
    for (const auto& [size, values] : rows) {
      out << static_cast<double>(size) / 1e6;
      for (auto v : values) out << " " << v;
      out << "\n";
    }
    out.close();
    std::ostringstream plot;
    plot << "set terminal png noenhanced size 900,500; set output '" << dir << "/" << f.file << ".png'; set title '"
         << f.title << "'; set xlabel 'events loaded (millions)'; set ylabel '" << f.ylabel
         << "'; set key below; set grid; " << (f.log_y ? "set logscale y; " : "set yrange [0:*]; ") << "plot ";
    for (std::size_t i = 0; i < f.series.size(); ++i)
      plot << (i ? ", " : "") << "'" << dat << "' using 1:" << i + 2 << " with linespoints title '"
           << f.series[i].first << " " << f.series[i].second << "'";
    const std::string script = dir + "/" + f.file + ".gp";
    std::ofstream(script) << plot.str() << "\n";
    if (std::system(("gnuplot '" + script + "'").c_str()) != 0)
      std::cerr << "[bench] gnuplot failed for " << script << " (is gnuplot installed? ops/even deps)\n";
    else
      std::cerr << "[bench] chart " << dir << "/" << f.file << ".png\n";
  }
}

}  // namespace

int bench_scale(int argc, char** argv) {
  namespace po = config::po;
  config::DbOptions db;
  ScaleOptions o;
  std::string sizes = "0,1000000,10000000";
  bool large = false, no_charts = false;
  po::options_description desc("even-bench scale options");
  desc.add_options()
      ("sizes", po::value(&sizes)->default_value(sizes), "store sizes (events) to grow to and measure at, ascending")
      ("large", po::bool_switch(&large), "allow sizes above 10,000,000 (50M loads for about an hour here)")
      ("seconds", po::value(&o.seconds)->default_value(o.seconds), "how long each timed case runs at each size")
      ("clients", po::value(&o.clients)->default_value(o.clients), "appending clients")
      ("append-rounds", po::value(&o.append_rounds)->default_value(o.append_rounds),
       "rounds of each append case at each size (each --seconds, between two halves of its raw baseline); the "
       "median round is reported")
      ("streams", po::value(&o.streams)->default_value(o.streams), "streams the loaded events are spread over")
      ("categories", po::value(&o.categories)->default_value(o.categories), "categories of those streams")
      ("types", po::value(&o.types)->default_value(o.types), "event types of the loaded events")
      ("payload-bytes", po::value(&o.payload_bytes)->default_value(o.payload_bytes), "payload size of every event")
      ("page-events", po::value(&o.page_events)->default_value(o.page_events),
       "events of each read from a random position")
      ("charts", po::value(&o.charts_dir)->default_value(o.charts_dir), "folder for the PNG charts and their data")
      ("no-charts", po::bool_switch(&no_charts), "print the JSON lines only");
  bool insecure = false;
  add_insecure_option(desc, insecure);
  config::add_db_options(desc, db);
  auto vm = config::parse(argc, argv, desc, "Usage: even-bench scale [--sizes 0,1000000] [options]");
  if (!vm) return 0;
  std::stringstream list(sizes);
  for (std::string item; std::getline(list, item, ',');) {
    std::size_t used = 0;
    std::uint64_t n = 0;
    try {
      n = std::stoull(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size()) throw po::error("--sizes: '" + item + "' is not a number of events");
    if (!o.sizes.empty() && n < o.sizes.back()) throw po::error("--sizes must be ascending");
    if (n > 10'000'000 && !large) throw po::error("--sizes above 10000000 need --large (they load for a long time)");
    o.sizes.push_back(n);
  }
  if (o.sizes.empty() || o.streams == 0 || o.categories < 1 || o.types < 1 || o.clients < 1 || o.seconds <= 0 ||
      o.append_rounds < 1)
    throw po::error("--sizes, --streams, --categories, --types, --clients, --append-rounds and --seconds must be positive");

  auto server = ensure_database(db, !(*vm)["db-url"].defaulted());
  ScratchStore scratch(server);
  const auto& sdb = scratch.db();
  std::cerr << "[bench] store '" << sdb.name << "' at " << sdb.url << "\n";
  BenchKeys keys(insecure);
  Services services(sdb, keys);
  StoreShape shape(o);
  Report report;
  std::vector<std::string> written;  // streams the append cases wrote (read_stream before a load)
  for (const auto size : o.sizes) {
    const double load_s = shape.grow_to(sdb, size);
    const double settle_s = settle_store(sdb);
    const PoolStats before = pool_stats(sdb);
    report.print({size, "load", {{"seconds", load_s}, {"settle_seconds", settle_s}, {"head", head_of(sdb)},
                                 {"store_mb", before.store_mb}, {"buffer_pool_mb", before.pool_mb}}},
                 "");
    report.print(measure_append(sdb, services, keys, o, size, false, written), "events_per_s");
    report.print(measure_append(sdb, services, keys, o, size, true, written), "events_per_s");
    report.print(measure_read_stream(sdb, services, shape, o, size, written), "p99_ms");
    const bool loaded = shape.loaded();
    auto category = [&](std::mt19937_64& rng) {
      client::Filter f;
      f.categories = {loaded ? "cat" + std::to_string(rng() % static_cast<std::uint64_t>(o.categories)) : "bench"};
      return f;
    };
    auto type = [&](std::mt19937_64& rng) {
      client::Filter f;
      f.event_types = {loaded ? "Type" + std::to_string(rng() % static_cast<std::uint64_t>(o.types)) : "BenchEvent"};
      return f;
    };
    report.print(measure_read_from(sdb, services, o, size, "read_all", [](std::mt19937_64&) { return client::Filter{}; }),
                 "events_per_s");
    report.print(measure_read_from(sdb, services, o, size, "read_category", category), "events_per_s");
    report.print(measure_read_from(sdb, services, o, size, "read_type", type), "events_per_s");
    report.print(measure_catch_up(sdb, services, size), "events_per_s");
    report.print(measure_rebuild(sdb, services, size), "events_per_s");
    const PoolStats after = pool_stats(sdb);
    const double requests = after.read_requests - before.read_requests, reads = after.disk_reads - before.disk_reads;
    report.print({size,
                  "rss",
                  {{"writer_mb", current_rss_mb(services.writer->pid())},
                   {"writer_peak_mb", process_peak_rss_mb(services.writer->pid())},
                   {"reader_mb", current_rss_mb(services.reader->pid())},
                   {"reader_peak_mb", process_peak_rss_mb(services.reader->pid())},
                   {"dispatcher_mb", current_rss_mb(services.dispatcher->pid())},
                   {"dispatcher_peak_mb", process_peak_rss_mb(services.dispatcher->pid())},
                   {"bench_peak_mb", peak_rss_mb()},
                   // the size's cases: pages the store read from disk, and the pool's hit ratio
                   {"pool_disk_reads", reads},
                   {"pool_hit_ratio", requests > 0 ? 1.0 - reads / requests : 1.0}}},
                 "");
  }
  if (!no_charts) write_charts(report, o.charts_dir);
  return 0;
}

}  // namespace even::bench
