// even-bench append: N concurrent clients appending through a real even-writer, against raw
// multi-row INSERTs of the same rows into the same MariaDB, measured in the same run.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "bench/bench.h"
#include "even/client/client.h"
#include "even/common/metrics_http.h"
#include "even/common/net.h"
#include "even/common/store/mysql.h"

namespace even::bench {

namespace {

class Appender {
 public:
  Appender(client::Client& c, std::string stream, const LoadShape& shape, const std::string& payload,
           const std::atomic<bool>& stop)
      : client_(c), stream_(std::move(stream)), shape_(shape), batch_(static_cast<std::size_t>(shape.events_per_append)),
        stop_(stop) {
    for (auto& e : batch_) {
      e.type = "BenchEvent";
      e.payload = payload;
    }
    latencies_.reserve(100000);
  }

  ExpectedVersion expected() const {
    if (!shape_.serial) return ExpectedVersion::any();
    return version_ == 0 ? ExpectedVersion::no_stream() : ExpectedVersion::exact(version_);
  }
  void fresh_ids() {
    for (auto& e : batch_) e.id = EventId::random();
  }
  void record(const client::AppendResult& r) {
    version_ = r.last_stream_seq.value();
    latencies_.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0_).count());
    appends_.store(latencies_.size(), std::memory_order_relaxed);
  }
  void failed(std::exception_ptr error) {
    if (errors_++ < 3) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        std::cerr << "[bench] append to " << stream_ << " failed: " << e.what() << "\n";
      }
    }
  }

  // Blocking loop (sync_threads).
  void run_sync() {
    while (!stop_.load(std::memory_order_relaxed)) {
      fresh_ids();
      t0_ = Clock::now();
      try {
        record(client_.append(stream_, expected(), batch_));
      } catch (...) {
        failed(std::current_exception());
        if (shape_.serial) return;  // its version is unknown now
      }
    }
  }

  // Starts the async loop; `finished` is called (on an I/O thread) when it stops.
  void start_async(std::function<void()> finished) {
    finished_ = std::move(finished);
    next_async();
  }

  // Safe to read while the appender runs (the progress line).
  std::uint64_t appends() const { return appends_.load(std::memory_order_relaxed); }
  std::uint64_t errors() const { return errors_; }
  std::vector<double>& latencies() { return latencies_; }

 private:
  void next_async() {
    if (stop_.load(std::memory_order_relaxed)) return finished_();
    fresh_ids();
    t0_ = Clock::now();
    client_.append_async(stream_, expected(), batch_, [this](const client::AppendResult* r, std::exception_ptr error) {
      if (r) {
        record(*r);
      } else {
        failed(error);
        if (shape_.serial) return finished_();
      }
      next_async();
    });
  }

  client::Client& client_;
  const std::string stream_;
  const LoadShape& shape_;
  std::vector<client::NewEvent> batch_;
  const std::atomic<bool>& stop_;
  std::int64_t version_ = 0;
  Clock::time_point t0_;
  std::vector<double> latencies_;
  std::atomic<std::uint64_t> appends_{0};
  std::uint64_t errors_ = 0;
  std::function<void()> finished_;
};

}  // namespace

AppendRun run_clients(const std::string& endpoint, const BenchKeys& keys, const LoadShape& shape, double seconds) {
  std::vector<std::unique_ptr<client::Client>> sockets;
  for (int i = 0; i < std::max(1, shape.sockets); ++i) {
    client::ClientOptions co;
    keys.apply(co);
    co.writer_endpoint = endpoint;
    co.timeout = std::chrono::seconds(30);
    sockets.push_back(std::make_unique<client::Client>(co));
  }
  for (auto& c : sockets) c->ping_writer(std::chrono::seconds(30));
  const std::string payload =
      "{\"data\":\"" + std::string(static_cast<std::size_t>(std::max(0, shape.payload_bytes - 11)), 'x') + "\"}";
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Appender>> appenders;
  for (int c = 0; c < shape.clients; ++c)
    appenders.push_back(std::make_unique<Appender>(*sockets[static_cast<std::size_t>(c) % sockets.size()],
                                                   shape.stream_prefix + std::to_string(c), shape, payload, stop));
  std::vector<std::thread> threads;
  std::mutex mu;
  std::condition_variable cv;
  int running = shape.clients;
  auto start = Clock::now();
  for (auto& a : appenders) {
    if (shape.sync_threads) {
      threads.emplace_back([&a] { a->run_sync(); });
    } else {
      a->start_async([&] {
        std::lock_guard lock(mu);
        if (--running == 0) cv.notify_all();
      });
    }
  }
  auto total = [&] {
    std::uint64_t n = 0;
    for (auto& a : appenders) n += a->appends();
    return n * static_cast<std::uint64_t>(shape.events_per_append);
  };
  for (int s = 1; s <= static_cast<int>(seconds); ++s) {
    std::this_thread::sleep_until(start + std::chrono::seconds(s));
    std::cerr << "[bench] " << (shape.serial ? "serial" : "buffered") << " " << s << "/" << seconds << " s, ~"
              << total() << " events\n";
  }
  std::this_thread::sleep_until(start + std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  if (!shape.sync_threads) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return running == 0; });
  }
  AppendRun r;
  r.seconds = seconds_since(start);
  std::vector<double> latencies;
  for (auto& a : appenders) {
    r.appends += a->appends();
    r.errors += a->errors();
    latencies.insert(latencies.end(), a->latencies().begin(), a->latencies().end());
  }
  r.events = r.appends * static_cast<std::uint64_t>(shape.events_per_append);
  r.latency = percentiles(std::move(latencies));
  return r;
}

// The baseline: one connection inserting the same kind of rows with multi-row INSERTs of
// `batch_rows` rows, one transaction each, for `seconds`.
double raw_insert_rate(const config::DbOptions& db, int batch_rows, double seconds, int payload_bytes, int streams,
                       const std::string& stream_prefix) {
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
      sql += ',';
      const std::string stream = stream_prefix + std::to_string(s);
      store::append_quoted(sql, stream);
      sql += ',' + std::to_string(++seq[static_cast<std::size_t>(s)]) + ',';
      store::append_quoted(sql, category_of(stream));
      sql += ",'BenchEvent',0,'',";
      store::append_hex(sql, payload.data(), payload.size());
      sql += ",1)";
    }
    conn->update(sql);
    conn->commit();
    rows += static_cast<std::uint64_t>(batch_rows);
  }
  return static_cast<double>(rows) / seconds_since(start);
}

int bench_append(int argc, char** argv) {
  namespace po = config::po;
  config::DbOptions db;
  std::string modes = "buffered,serial";
  LoadShape shape;
  int batch_window_us = 0;
  int raw_batch_rows = 0;
  double seconds = 10;
  bool with_metrics = false;
  po::options_description desc("even-bench append options");
  desc.add_options()
      ("mode", po::value(&modes)->default_value(modes), "buffered (expected version any), serial (exact versions), or both comma-separated")
      ("clients", po::value(&shape.clients)->default_value(shape.clients),
       "concurrent appending clients, each on its own stream with one append in flight")
      ("seconds", po::value(&seconds)->default_value(seconds), "how long each measurement runs")
      ("events-per-append", po::value(&shape.events_per_append)->default_value(shape.events_per_append),
       "events in each append")
      ("payload-bytes", po::value(&shape.payload_bytes)->default_value(shape.payload_bytes),
       "size of each event's JSON payload")
      ("batch-window-us", po::value(&batch_window_us)->default_value(batch_window_us), "passed to even-writer")
      ("sockets", po::value(&shape.sockets)->default_value(shape.sockets),
       "Client objects (one DEALER socket and I/O thread each) the clients are spread over")
      ("sync-threads", po::bool_switch(&shape.sync_threads),
       "one application thread per client, blocked in append(), instead of completion handlers")
      ("raw-batch-rows", po::value(&raw_batch_rows)->default_value(raw_batch_rows),
       "rows per transaction of the raw baseline; 0 = clients x events-per-append")
      ("metrics", po::bool_switch(&with_metrics),
       "serve the writer's /metrics (--metrics-endpoint) and scrape it every second during the run, as a "
       "Prometheus would (it counts either way: this adds the HTTP server and the scrapes)");
  bool insecure = false;
  add_insecure_option(desc, insecure);
  config::add_db_options(desc, db);
  auto vm = config::parse(argc, argv, desc, "Usage: even-bench append [options]");
  if (!vm) return 0;
  auto server = ensure_database(db, !(*vm)["db-url"].defaulted());

  std::stringstream mode_list(modes);
  std::string mode;
  while (std::getline(mode_list, mode, ',')) {
    if (mode != "buffered" && mode != "serial") throw po::error("--mode must be buffered, serial or both");
    shape.serial = mode == "serial";
    const int clients = shape.clients, events_per_append = shape.events_per_append,
              payload_bytes = shape.payload_bytes;
    const int raw_batch = raw_batch_rows > 0 ? raw_batch_rows : clients * events_per_append;
    // The baseline runs half before and half after the writer's run, and its rate is their mean,
    // so that a change in the machine's load during the run weighs on both sides alike.
    auto raw_half = [&](const char* when) {
      ScratchStore scratch(server);
      std::cerr << "[bench] raw baseline (" << when << "): multi-row INSERTs of " << raw_batch
                << " rows per transaction for " << seconds / 2 << " s\n";
      return raw_insert_rate(scratch.db(), raw_batch, seconds / 2, payload_bytes, clients, "bench-");
    };
    const double raw_before = raw_half("before");
    AppendRun run;
    {
      ScratchStore scratch(server);
      std::string endpoint = "tcp://127.0.0.1:" + std::to_string(net::free_loopback_port());
      std::vector<std::string> args = {"--writer-endpoint", endpoint, "--writer.batch-window-us",
                                       std::to_string(batch_window_us), "--log-level",
                                       std::getenv("EVEN_BENCH_LOG") ? std::getenv("EVEN_BENCH_LOG") : "warn"};
      for (auto& f : config::db_flags(scratch.db())) args.push_back(f);
      BenchKeys keys(insecure);
      args.insert(args.end(), keys.service_args().begin(), keys.service_args().end());
      std::string metrics_endpoint;
      if (with_metrics) {
        metrics_endpoint = "127.0.0.1:" + std::to_string(net::free_loopback_port());
        args.insert(args.end(), {"--metrics-endpoint", metrics_endpoint});
      }
      ServiceProcess writer("writer", args);
      std::atomic<bool> scraping{with_metrics};
      std::atomic<int> scrapes{0};
      std::thread scraper([&] {
        while (scraping) {
          if (metrics::http_get(metrics_endpoint, "/metrics").status == 200) ++scrapes;
          for (int i = 0; i < 20 && scraping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      });
      std::cerr << "[bench] " << mode << ": " << clients << " clients x " << events_per_append << " events of "
                << payload_bytes << " bytes for " << seconds << " s through even-writer (pid " << writer.pid() << ")\n";
      run = run_clients(endpoint, keys, shape, seconds);
      scraping = false;
      scraper.join();
      if (with_metrics) std::cerr << "[bench] scraped " << metrics_endpoint << "/metrics " << scrapes << " times\n";
    }
    const double raw_after = raw_half("after");
    const double raw = (raw_before + raw_after) / 2;
    double eps = static_cast<double>(run.events) / run.seconds;
    std::cout << std::fixed << std::setprecision(3) << "{\"bench\":\"append\",\"mode\":\"" << mode
              << "\",\"transport\":\"" << (insecure ? "insecure" : "curve") << "\",\"metrics\":\""
              << (with_metrics ? "on" : "off")
              << "\",\"clients\":" << clients << ",\"seconds\":" << run.seconds
              << ",\"events_per_append\":" << events_per_append << ",\"payload_bytes\":" << payload_bytes
              << ",\"appends\":" << run.appends << ",\"events\":" << run.events << ",\"errors\":" << run.errors
              << ",\"events_per_s\":" << eps << ",\"p50_ms\":" << run.latency.p50 << ",\"p99_ms\":" << run.latency.p99
              << ",\"raw_batch_rows\":" << raw_batch << ",\"raw_events_per_s\":" << raw
              << ",\"raw_before_after\":[" << raw_before << "," << raw_after << "]"
              << ",\"ratio_to_raw\":" << (raw > 0 ? eps / raw : 0);
    std::cout << "}" << std::endl;
  }
  return 0;
}

}  // namespace even::bench
