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
  const std::string payload =
      "{\"data\":\"" + std::string(static_cast<std::size_t>(std::max(0, payload_bytes - 11)), 'x') + "\"}";
  const auto n_streams = static_cast<std::uint64_t>(streams);
  bulk_load(scratch.db(), events, [&](std::uint64_t i, BulkRow& row) {  // round-robin over the streams
    row.stream = "bench-" + std::to_string(i % n_streams);
    row.stream_seq = static_cast<std::int64_t>(i / n_streams + 1);
    row.type = "BenchEvent";
    row.payload = payload;
  });

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
