// even-bench append: N concurrent clients appending through a real even-writer, against raw
// multi-row INSERTs of the same rows into the same MariaDB, measured in the same run.
#include <atomic>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "bench/bench.h"
#include "even/client/client.h"
#include "even/common/net.h"
#include "even/common/store/mysql.h"

namespace even::bench {

namespace {

struct AppendRun {
  std::uint64_t appends = 0;
  std::uint64_t events = 0;
  double seconds = 0;
  Percentiles latency;
  std::uint64_t errors = 0;
};

AppendRun run_clients(const std::string& endpoint, bool serial, int clients, double seconds, int events_per_append,
                      int payload_bytes, int threads_per_client) {
  // One Client (one DEALER + I/O thread) shared by `threads_per_client` application threads, as
  // an application server would share it.
  std::vector<std::unique_ptr<client::Client>> pool;
  for (int i = 0; i < (clients + threads_per_client - 1) / threads_per_client; ++i) {
    client::ClientOptions co;
    co.writer_endpoint = endpoint;
    co.timeout = std::chrono::seconds(30);
    pool.push_back(std::make_unique<client::Client>(co));
  }
  pool.front()->ping_writer(std::chrono::seconds(30));
  std::string payload = "{\"data\":\"" + std::string(static_cast<std::size_t>(std::max(0, payload_bytes - 11)), 'x') + "\"}";
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> appends{0}, events{0}, errors{0};
  std::mutex mu;
  std::vector<double> latencies;
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto& cl = *pool[static_cast<std::size_t>(c / threads_per_client)];
      std::string stream = "bench-" + std::to_string(c);
      std::int64_t version = 0;
      std::vector<double> mine;
      mine.reserve(100000);
      while (!stop.load(std::memory_order_relaxed)) {
        std::vector<client::NewEvent> batch(static_cast<std::size_t>(events_per_append));
        for (auto& e : batch) {
          e.type = "BenchEvent";
          e.payload = payload;
        }
        ExpectedVersion ex = !serial ? ExpectedVersion::any()
                                     : (version == 0 ? ExpectedVersion::no_stream() : ExpectedVersion::exact(version));
        auto t0 = Clock::now();
        try {
          auto r = cl.append(stream, ex, batch);
          version = r.last_stream_seq.value();
          mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
          appends.fetch_add(1, std::memory_order_relaxed);
          events.fetch_add(static_cast<std::uint64_t>(events_per_append), std::memory_order_relaxed);
        } catch (const std::exception& e) {
          if (errors.fetch_add(1) < 5) std::cerr << "[bench] append failed: " << e.what() << "\n";
        }
      }
      std::lock_guard lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (int s = 1; s <= static_cast<int>(seconds); ++s) {
    std::this_thread::sleep_until(start + std::chrono::seconds(s));
    std::cerr << "[bench] " << (serial ? "serial" : "buffered") << " " << s << "/" << seconds << " s, "
              << events.load() << " events\n";
  }
  std::this_thread::sleep_until(start + std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  AppendRun r;
  r.seconds = seconds_since(start);
  r.appends = appends.load();
  r.events = events.load();
  r.errors = errors.load();
  r.latency = percentiles(std::move(latencies));
  return r;
}

// The baseline: one connection inserting the same kind of rows with multi-row INSERTs of
// `batch_rows` rows, one transaction each, for `seconds`.
double raw_insert_rate(const config::DbOptions& db, int batch_rows, double seconds, int payload_bytes, int streams,
                       bool with_versions = false) {
  auto conn = store::Connection::open(db);
  conn->begin();
  std::string payload = "{\"data\":\"" + std::string(static_cast<std::size_t>(std::max(0, payload_bytes - 11)), 'x') + "\"}";
  std::vector<std::int64_t> seq(static_cast<std::size_t>(streams), 0);
  std::uint64_t rows = 0;
  int next_stream = 0;
  auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    std::string sql =
        "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
        "payload_format) VALUES ";
    for (int i = 0; i < batch_rows; ++i) {
      if (i) sql += ',';
      auto id = EventId::random();
      int s = next_stream++ % streams;
      sql += '(';
      store::append_hex(sql, id.data(), EventId::kSize);
      sql += ",'bench-" + std::to_string(s) + "'," + std::to_string(++seq[static_cast<std::size_t>(s)]) +
             ",'bench','BenchEvent',0,'',";
      store::append_hex(sql, payload.data(), payload.size());
      sql += ",1)";
    }
    conn->update(sql);
    if (with_versions) {
      // The same rows plus what an event store must also keep: each stream's version.
      std::string up = "INSERT INTO streams (stream, version, updated_at_us) VALUES ";
      for (int s = 0; s < std::min(batch_rows, streams); ++s) {
        if (s) up += ',';
        up += "('bench-" + std::to_string(s) + "'," + std::to_string(seq[static_cast<std::size_t>(s)]) + ",0)";
      }
      up += " ON DUPLICATE KEY UPDATE version = VALUES(version), updated_at_us = VALUES(updated_at_us)";
      conn->update(up);
    }
    conn->commit();
    rows += static_cast<std::uint64_t>(batch_rows);
  }
  return static_cast<double>(rows) / seconds_since(start);
}

}  // namespace

int bench_append(int argc, char** argv) {
  namespace po = config::po;
  config::DbOptions db;
  std::string modes = "buffered,serial";
  int clients = 64, events_per_append = 1, payload_bytes = 200, batch_window_us = 0;
  bool raw_with_versions = false;
  int threads_per_client = 8;
  double seconds = 10;
  po::options_description desc("even-bench append options");
  desc.add_options()
      ("mode", po::value(&modes)->default_value(modes), "buffered (expected version any), serial (exact versions), or both comma-separated")
      ("clients", po::value(&clients)->default_value(clients), "concurrent appending clients, each on its own stream")
      ("seconds", po::value(&seconds)->default_value(seconds), "how long each measurement runs")
      ("events-per-append", po::value(&events_per_append)->default_value(events_per_append), "events in each append")
      ("payload-bytes", po::value(&payload_bytes)->default_value(payload_bytes), "size of each event's JSON payload")
      ("batch-window-us", po::value(&batch_window_us)->default_value(batch_window_us), "passed to even-writer")
      ("threads-per-client", po::value(&threads_per_client)->default_value(threads_per_client),
       "application threads sharing one Client (one DEALER socket and I/O thread)")
      ("raw-with-versions", po::bool_switch(&raw_with_versions),
       "also measure raw INSERTs that keep stream versions (streams upsert), printed as raw_with_versions_events_per_s");
  config::add_db_options(desc, db);
  auto vm = config::parse(argc, argv, desc, "Usage: even-bench append [options]");
  if (!vm) return 0;
  auto server = ensure_database(db, !(*vm)["db-url"].defaulted());

  std::stringstream mode_list(modes);
  std::string mode;
  while (std::getline(mode_list, mode, ',')) {
    if (mode != "buffered" && mode != "serial") throw po::error("--mode must be buffered, serial or both");
    const bool serial = mode == "serial";
    AppendRun run;
    {
      ScratchStore scratch(server);
      std::string endpoint = "tcp://127.0.0.1:" + std::to_string(net::free_loopback_port());
      std::vector<std::string> args = {"--writer-endpoint", endpoint, "--db-url", scratch.db().url, "--db-user",
                                       scratch.db().user, "--db-password", scratch.db().password, "--db-name",
                                       scratch.db().name, "--batch-window-us", std::to_string(batch_window_us),
                                       "--log-level", std::getenv("EVEN_BENCH_LOG") ? std::getenv("EVEN_BENCH_LOG") : "warn"};
      ServiceProcess writer("writer", args);
      std::cerr << "[bench] " << mode << ": " << clients << " clients x " << events_per_append << " events of "
                << payload_bytes << " bytes for " << seconds << " s through even-writer (pid " << writer.pid() << ")\n";
      run = run_clients(endpoint, serial, clients, seconds, events_per_append, payload_bytes,
                        std::max(1, threads_per_client));
    }
    const int raw_batch = clients * events_per_append;
    double raw;
    {
      ScratchStore scratch(server);
      std::cerr << "[bench] raw baseline: multi-row INSERTs of " << raw_batch << " rows per transaction for "
                << seconds << " s\n";
      raw = raw_insert_rate(scratch.db(), raw_batch, seconds, payload_bytes, clients);
    }
    double raw_versions = 0;
    if (raw_with_versions) {
      ScratchStore scratch(server);
      std::cerr << "[bench] second baseline: the same INSERTs plus a streams-version upsert per transaction\n";
      raw_versions = raw_insert_rate(scratch.db(), raw_batch, seconds, payload_bytes, clients, true);
    }
    double eps = static_cast<double>(run.events) / run.seconds;
    std::cout << std::fixed << std::setprecision(3) << "{\"bench\":\"append\",\"mode\":\"" << mode
              << "\",\"clients\":" << clients << ",\"seconds\":" << run.seconds
              << ",\"events_per_append\":" << events_per_append << ",\"payload_bytes\":" << payload_bytes
              << ",\"appends\":" << run.appends << ",\"events\":" << run.events << ",\"errors\":" << run.errors
              << ",\"events_per_s\":" << eps << ",\"p50_ms\":" << run.latency.p50 << ",\"p99_ms\":" << run.latency.p99
              << ",\"raw_batch_rows\":" << raw_batch << ",\"raw_events_per_s\":" << raw
              << ",\"ratio_to_raw\":" << (raw > 0 ? eps / raw : 0);
    if (raw_with_versions) std::cout << ",\"raw_with_versions_events_per_s\":" << raw_versions;
    std::cout << "}" << std::endl;
  }
  return 0;
}

}  // namespace even::bench
