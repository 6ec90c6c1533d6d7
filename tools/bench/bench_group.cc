// even-bench group: a persistent subscription group (even-groups) handing E events to N consumer
// processes (even-group-consumer, next to even-bench), for each consumer count and each stream
// count, against a plain SELECT of the same events through Connector/C++ in the same run.
//
// Per measurement one JSON line: events, acked_unique (events handled by a consumer and settled
// in the group: below its final checkpoint, not parked), lost (events - acked_unique), redelivered
// (deliveries beyond the first, as even-groups counts them), duplicates (handler calls beyond one
// per event, from the consumers' files), events_per_s (E over the time from the consumers' start
// until the group's checkpoint passed the last event), raw_events_per_s and their ratio. With
// --kill-one, the first consumer is SIGKILLed once a third of the events are acked; what it held
// comes back after the ack timeout.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "bench/bench.h"
#include "even/client/persistent_subscription.h"
#include "even/common/net.h"
#include "even/common/store/events.h"
#include "even/common/store/mysql.h"

namespace even::bench {

namespace {

std::vector<int> parse_list(const std::string& text, const std::string& option) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t used = 0;
      const int v = std::stoi(item, &used);
      if (used != item.size() || v < 1) throw std::invalid_argument(item);
      out.push_back(v);
    } catch (const std::exception&) {
      throw config::po::error(option + " takes whole numbers >= 1 separated by commas, got '" + text + "'");
    }
  }
  if (out.empty()) throw config::po::error(option + " must name at least one number");
  return out;
}

// The baseline: the same events (one category), selected and decoded as even-groups reads them.
double raw_rate(const config::DbOptions& db, const std::string& category, std::uint64_t expected) {
  auto conn = store::Connection::open(db);
  const auto start = Clock::now();
  auto rs = conn->query_streaming(std::string("SELECT ") + store::kEventColumns +
                                  " FROM events WHERE category = '" + category + "' ORDER BY global_seq");
  std::uint64_t n = 0;
  while (rs->next()) {
    store::read_event_row(*rs);
    ++n;
  }
  if (n != expected) throw std::runtime_error("the raw SELECT found " + std::to_string(n) + " events");
  return double(n) / seconds_since(start);
}

std::string program_beside_self(const std::string& name) {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) throw std::runtime_error("cannot find even-bench's own path");
  std::string dir(self, static_cast<std::size_t>(n));
  return dir.substr(0, dir.rfind('/')) + "/" + name;
}

}  // namespace

int bench_group(int argc, char** argv) {
  namespace po = config::po;
  config::DbOptions db;
  std::string consumers_text = "1,4,16", streams_text = "1,100", ordering = "per-stream";
  std::uint64_t events = 20000;
  std::uint32_t max_in_flight = 100;
  int ack_timeout_ms = 2000;
  bool kill_one = false;
  po::options_description desc("even-bench group options");
  desc.add_options()
      ("consumers", po::value(&consumers_text)->default_value(consumers_text), "consumer processes, a run per count")
      ("streams", po::value(&streams_text)->default_value(streams_text), "streams the events are spread over, a run each")
      ("events", po::value(&events)->default_value(events), "events per run")
      ("ordering", po::value(&ordering)->default_value(ordering), "the group's ordering: per-stream or unordered")
      ("max-in-flight", po::value(&max_in_flight)->default_value(max_in_flight), "unacked deliveries per consumer")
      ("ack-timeout-ms", po::value(&ack_timeout_ms)->default_value(ack_timeout_ms),
       "the group's ack timeout (what a killed consumer held comes back after it)")
      ("kill-one", po::bool_switch(&kill_one), "SIGKILL the first consumer once a third of the events are acked");
  bool insecure = false;
  add_insecure_option(desc, insecure);
  config::add_db_options(desc, db);
  auto vm = config::parse(argc, argv, desc, "Usage: even-bench group [--consumers 1,4,16] [--streams 1,100] [options]");
  if (!vm) return 0;
  const auto consumer_counts = parse_list(consumers_text, "--consumers");
  const auto stream_counts = parse_list(streams_text, "--streams");
  if (events < 1) throw po::error("--events must be >= 1");
  if (ordering != "per-stream" && ordering != "unordered") throw po::error("--ordering must be per-stream or unordered");
  const std::string consumer_bin = program_beside_self("even-group-consumer");
  if (::access(consumer_bin.c_str(), X_OK) != 0) throw std::runtime_error("cannot run " + consumer_bin);

  auto server = ensure_database(db, !(*vm)["db-url"].defaulted());
  ScratchStore scratch(server);
  std::cerr << "[bench] store '" << scratch.db().name << "' at " << scratch.db().url << "\n";
  // Events of category "s<S>" spread round-robin over its S streams, one category per stream count.
  std::uint64_t loaded = 0;
  std::map<int, std::uint64_t> last_seq;  // category's last global seq
  for (int s : stream_counts) {
    if (last_seq.count(s)) continue;
    const auto n = static_cast<std::uint64_t>(s);
    bulk_load(scratch.db(), events, [&](std::uint64_t i, BulkRow& row) {
      row.stream = "s" + std::to_string(s) + "-" + std::to_string(i % n);
      row.stream_seq = static_cast<std::int64_t>(i / n + 1);
      row.type = "BenchEvent";
      row.payload = "{\"i\":" + std::to_string(i) + "}";
    });
    loaded += events;
    last_seq[s] = loaded;  // a fresh store: global seqs 1, 2, 3 ...
  }

  BenchKeys keys(insecure);
  const std::string writer_endpoint = "tcp://127.0.0.1:" + std::to_string(net::free_loopback_port());
  const std::string groups_endpoint = "tcp://127.0.0.1:" + std::to_string(net::free_loopback_port());
  std::vector<std::string> writer_args{"--writer-endpoint", writer_endpoint, "--writer.no-standby", "--log-level", "warn"};
  std::vector<std::string> groups_args{"--groups-endpoint", groups_endpoint, "--writer-endpoint", writer_endpoint,
                                       "--groups.consumer-timeout-ms", "3000", "--log-level", "warn"};
  for (auto& f : config::db_flags(scratch.db())) {
    writer_args.push_back(f);
    groups_args.push_back(f);
  }
  writer_args.insert(writer_args.end(), keys.service_args().begin(), keys.service_args().end());
  groups_args.insert(groups_args.end(), keys.service_args().begin(), keys.service_args().end());
  ServiceProcess writer("writer", writer_args);  // parked events would go through it
  ServiceProcess service("groups", groups_args);
  client::ClientOptions co;
  keys.apply(co);
  co.groups_endpoint = groups_endpoint;
  co.timeout = std::chrono::seconds(30);
  client::GroupsClient groups(co);

  char pattern[] = "/tmp/even-bench-group-XXXXXX";
  if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
  const std::string dir = pattern;
  int failures = 0;
  for (int s : stream_counts) {
    const std::string category = "s" + std::to_string(s);
    const std::uint64_t last = last_seq.at(s), first = last - events + 1;
    for (int n : consumer_counts) {
      const std::string name = "bench_" + std::to_string(s) + "_" + std::to_string(n);
      const double raw = raw_rate(scratch.db(), category, events);
      client::GroupSettings gs;
      gs.source = client::GroupSource::category;
      gs.value = category;
      gs.max_in_flight = max_in_flight;
      gs.ack_timeout = std::chrono::milliseconds(ack_timeout_ms);
      gs.ordering = ordering == "unordered" ? client::GroupOrdering::unordered : client::GroupOrdering::per_stream;
      gs.start_from = GlobalSeq(first);
      groups.create(name, gs);
      auto info = [&] {
        for (auto& g : groups.list())
          if (g.name == name) return g;
        throw std::runtime_error("group " + name + " is gone");
      };
      std::vector<std::unique_ptr<ServiceProcess>> consumers;
      std::vector<std::string> outs;
      const auto start = Clock::now();
      for (int i = 0; i < n; ++i) {
        outs.push_back(dir + "/" + name + "-" + std::to_string(i) + ".out");
        std::vector<std::string> args{"--groups-endpoint", groups_endpoint, "--group", name, "--out", outs.back()};
        args.insert(args.end(), keys.client_args().begin(), keys.client_args().end());
        consumers.push_back(std::make_unique<ServiceProcess>(consumer_bin, args));
      }
      bool killed = false;
      auto last_report = Clock::now();
      client::GroupInfo g;
      while (true) {
        g = info();
        if (g.checkpoint.value() >= last) break;
        if (kill_one && n > 1 && !killed && g.acked >= events / 3) {
          ::kill(consumers[0]->pid(), SIGKILL);
          killed = true;
          std::cerr << "[bench] " << name << ": SIGKILLed consumer 0 after " << g.acked << " acks\n";
        }
        if (seconds_since(last_report) >= 2) {
          std::cerr << "[bench] " << name << ": " << g.acked << "/" << events << " acked, checkpoint " << g.checkpoint.value()
                    << "\n";
          last_report = Clock::now();
        }
        if (seconds_since(start) > 600) throw std::runtime_error(name + ": not done after 600 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      const double seconds = seconds_since(start);
      consumers.clear();  // SIGTERM, wait
      std::set<std::uint64_t> handled;
      std::uint64_t calls = 0;
      for (const auto& out : outs) {
        std::ifstream in(out);
        std::string line;
        while (std::getline(in, line)) {
          std::istringstream l(line);
          std::int64_t at;
          std::uint64_t seq;
          if (l >> at >> seq) {
            ++calls;
            if (seq >= first && seq <= g.checkpoint.value()) handled.insert(seq);
          }
        }
      }
      const std::uint64_t acked_unique = handled.size() >= g.parked ? handled.size() - g.parked : 0;
      const std::uint64_t lost = events - std::min<std::uint64_t>(events, acked_unique);
      if (lost != 0 || acked_unique != events) ++failures;
      std::cout << "{\"case\":\"group\",\"streams\":" << s << ",\"consumers\":" << n << ",\"ordering\":\"" << ordering
                << "\",\"kill_one\":" << (killed ? "true" : "false") << ",\"events\":" << events
                << ",\"acked_unique\":" << acked_unique << ",\"lost\":" << lost << ",\"redelivered\":" << g.redelivered
                << ",\"duplicates\":" << (calls - std::min<std::uint64_t>(calls, handled.size()))
                << ",\"parked\":" << g.parked << ",\"seconds\":" << seconds
                << ",\"events_per_s\":" << double(events) / seconds << ",\"raw_events_per_s\":" << raw
                << ",\"ratio\":" << double(events) / seconds / raw << "}" << std::endl;
      groups.remove(name);
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return failures == 0 ? 0 : 1;
}

}  // namespace even::bench
