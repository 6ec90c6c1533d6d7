// even-bench read: a full read-all catch-up through a real even-reader, against a plain streamed
// SELECT of the same rows and columns with Connector/C++, measured in the same run.
//
// The N events are bulk-loaded straight into the store with multi-row INSERTs (the writer is not
// what this measures; even-bench append does that), into a fresh database dropped afterwards.
#include <sys/types.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "bench/bench.h"
#include "even/client/client.h"
#include "even/common/net.h"
#include "even/common/store/events.h"
#include "even/common/store/mysql.h"

namespace even::bench {

namespace {

// Loads `events` events of `payload_bytes` into `streams` streams, round-robin, in global order.
void bulk_load(const config::DbOptions& db, std::uint64_t events, int streams, int payload_bytes) {
  auto conn = store::Connection::open(db);
  std::mt19937_64 rng(42);
  const std::string payload =
      "{\"data\":\"" + std::string(static_cast<std::size_t>(std::max(0, payload_bytes - 11)), 'x') + "\"}";
  const std::int64_t now_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  constexpr std::uint64_t kRowsPerInsert = 2000;
  auto start = Clock::now();
  auto last_report = start;
  std::string sql;
  for (std::uint64_t done = 0; done < events;) {
    sql = "INSERT INTO events (event_id, stream, stream_seq, category, event_type, created_at_us, metadata, payload, "
          "payload_format) VALUES ";
    for (std::uint64_t k = 0; k < kRowsPerInsert && done < events; ++k, ++done) {
      std::uint64_t id[2] = {rng(), rng()};
      const auto s = done % static_cast<std::uint64_t>(streams);
      const auto seq = done / static_cast<std::uint64_t>(streams) + 1;
      if (k) sql += ',';
      sql += '(';
      store::append_hex(sql, id, sizeof id);
      sql += ",'bench-" + std::to_string(s) + "'," + std::to_string(seq) + ",'bench','BenchEvent'," +
             std::to_string(now_us) + ",'',";
      store::append_quoted(sql, payload);
      sql += ",1)";
    }
    conn->execute(sql);
    if (seconds_since(last_report) >= 2) {
      std::cerr << "[bench] loaded " << done << "/" << events << " events\n";
      last_report = Clock::now();
    }
  }
  conn->execute(
      "INSERT INTO streams (stream, version, updated_at_us) SELECT stream, MAX(stream_seq), 0 FROM events GROUP BY "
      "stream");
  std::cerr << "[bench] loaded " << events << " events in " << seconds_since(start) << " s\n";
}

struct ReadRun {
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;
};

// The baseline: one streamed SELECT of every row, decoded as the reader decodes them.
ReadRun read_raw(const config::DbOptions& db) {
  auto conn = store::Connection::open(db);
  ReadRun r;
  auto start = Clock::now();
  auto rs = conn->query_streaming(std::string("SELECT ") + store::kEventColumns + " FROM events ORDER BY global_seq");
  while (rs->next()) {
    auto e = store::read_event_row(*rs);
    r.bytes += e.payload.size();
    ++r.events;
  }
  r.seconds = seconds_since(start);
  return r;
}

// A full catch-up through the reader, as a subscriber does it.
ReadRun read_through_reader(client::Client& c, std::uint64_t expected) {
  ReadRun r;
  auto start = Clock::now();
  auto last_report = start;
  for (const auto& e : c.read_all(GlobalSeq(1))) {
    r.bytes += e.payload.size();
    if (++r.events % 65536 == 0 && seconds_since(last_report) >= 2) {
      std::cerr << "[bench] read " << r.events << "/" << expected << " events through the reader\n";
      last_report = Clock::now();
    }
  }
  r.seconds = seconds_since(start);
  return r;
}

// Peak resident set of another process (VmHWM), MiB; 0 when unknown.
double process_peak_rss_mb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

}  // namespace

int bench_read(int argc, char** argv) {
  namespace po = config::po;
  config::DbOptions db;
  std::uint64_t events = 200000;
  int streams = 1000, payload_bytes = 200, rounds = 5, workers = 2;
  std::size_t page_events = 0, page_bytes = 0;  // 0: the reader's defaults
  po::options_description desc("even-bench read options");
  desc.add_options()
      ("events", po::value(&events)->default_value(events), "events to load and read")
      ("streams", po::value(&streams)->default_value(streams), "streams the events are spread over")
      ("payload-bytes", po::value(&payload_bytes)->default_value(payload_bytes), "payload size of each event")
      ("rounds", po::value(&rounds)->default_value(rounds), "rounds of (raw, reader) reads; the medians are printed")
      ("workers", po::value(&workers)->default_value(workers), "the reader's --reader.workers")
      ("page-max-events", po::value(&page_events), "the reader's --reader.page-max-events (default: the reader's)")
      ("page-max-bytes", po::value(&page_bytes), "the reader's --reader.page-max-bytes (default: the reader's)");
  bool insecure = false;
  add_insecure_option(desc, insecure);
  config::add_db_options(desc, db);
  auto vm = config::parse(argc, argv, desc, "Usage: even-bench read --events N [options]");
  if (!vm) return 0;
  if (events == 0 || streams < 1 || rounds < 1) throw po::error("--events, --streams and --rounds must be >= 1");

  auto server = ensure_database(db, !(*vm)["db-url"].defaulted());
  ScratchStore scratch(server);
  std::cerr << "[bench] store '" << scratch.db().name << "' at " << scratch.db().url << "\n";
  bulk_load(scratch.db(), events, streams, payload_bytes);

  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(net::free_loopback_port());
  const auto& s = scratch.db();
  std::vector<std::string> reader_args{"--reader-endpoint", endpoint, "--reader.workers", std::to_string(workers),
                                      "--log-level", "warn"};
  for (auto& f : config::db_flags(s)) reader_args.push_back(f);
  if (page_events) reader_args.insert(reader_args.end(), {"--reader.page-max-events", std::to_string(page_events)});
  if (page_bytes) reader_args.insert(reader_args.end(), {"--reader.page-max-bytes", std::to_string(page_bytes)});
  BenchKeys keys(insecure);
  reader_args.insert(reader_args.end(), keys.service_args().begin(), keys.service_args().end());
  ServiceProcess reader("reader", reader_args);
  client::ClientOptions co;
  keys.apply(co);
  co.reader_endpoint = endpoint;
  co.timeout = std::chrono::seconds(60);
  client::Client c(co);
  if (c.head().value() == 0) throw std::runtime_error("the reader sees an empty store");  // also waits for it

  {  // Diagnostics: the fixed cost of one round trip (head) and of one small page.
    std::vector<double> head_ms, page_ms;
    for (int i = 0; i < 200; ++i) {
      auto t0 = Clock::now();
      c.head();
      head_ms.push_back(seconds_since(t0) * 1000);
      t0 = Clock::now();
      c.read_all_page_async(GlobalSeq(1 + static_cast<std::uint64_t>(i) * 10), {}, 10).get();
      page_ms.push_back(seconds_since(t0) * 1000);
    }
    std::cerr << "[bench] round trip p50 " << percentiles(head_ms).p50 << " ms (head), "
              << percentiles(page_ms).p50 << " ms (page of 10 events)\n";
  }
  // Each round reads both ways back to back (alternating which goes first), and the ratio is the
  // median of the rounds' ratios: a neighbour's burst on this shared machine then moves one pair,
  // not the result.
  std::vector<double> raw_rates, reader_rates, ratios;
  for (int round = 1; round <= rounds; ++round) {
    ReadRun raw, through;
    for (int leg = 0; leg < 2; ++leg) {
      if ((leg == 0) == (round % 2 == 1)) {
        raw = read_raw(scratch.db());
        std::cerr << "[bench] round " << round << ": raw SELECT " << raw.events << " events in " << raw.seconds << " s\n";
      } else {
        through = read_through_reader(c, events);
        std::cerr << "[bench] round " << round << ": reader " << through.events << " events in " << through.seconds
                  << " s\n";
      }
    }
    if (raw.events != events || through.events != events || raw.bytes != through.bytes)
      throw std::runtime_error("read " + std::to_string(through.events) + " events through the reader and " +
                               std::to_string(raw.events) + " raw, expected " + std::to_string(events));
    raw_rates.push_back(static_cast<double>(events) / raw.seconds);
    reader_rates.push_back(static_cast<double>(events) / through.seconds);
    ratios.push_back(raw.seconds / through.seconds);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  const double eps = median(reader_rates);
  const double raw_eps = median(raw_rates);
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << "{\"bench\":\"read\",\"events\":" << events << ",\"events_per_s\":" << eps << ",\"raw_events_per_s\":" << raw_eps;
  out.precision(3);
  out << ",\"ratio_to_raw\":" << median(ratios);
  out.precision(1);
  out << ",\"peak_rss_mb\":" << peak_rss_mb() << ",\"reader_peak_rss_mb\":" << process_peak_rss_mb(reader.pid())
      << "}";
  std::cout << out.str() << std::endl;
  return 0;
}

}  // namespace even::bench
