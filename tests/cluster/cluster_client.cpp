// even-cluster-client: the load and the witnesses of the cluster rig (tests/cluster/README.md).
//
//   even-cluster-client append --config even.conf --name c1 --rate 333 --log c1.appends
//   even-cluster-client subscribe --config even.conf --log c1.seen
//
// `append` runs --workers threads, each appending one event at a time to its own stream
// (cl-NAME-wK): even workers on the serial path (exact expected versions), odd ones on the
// buffered path (expected any), together at --rate events/s. A call that times out or finds the
// writer unavailable is sent again with the SAME event ids and the same expected version until
// it is answered: the writer's idempotency must turn a resend of a committed append into its
// original positions. Each answer is one line of the log:
//   A <event-id> <stream> <global_seq> <stream_seq> <sent_us> <acked_us> <attempts> <idempotent>
//   E <event-id> <stream> <kind> <message>     (an answer that is an error: a finding)
//   G <event-id> <stream>                      (given up at the end of the drain: outcome unknown)
// SIGTERM stops new appends; calls in flight are retried for --drain-s more, then given up.
//
// `subscribe` follows category "cl" from position 1 with a CatchUpSubscription and logs each
// event it is handed: `<global_seq> <event-id> <received_us>`, and `# state <state> <detail>`.
// SIGTERM stops it. The checker (checker.py) reads both logs; nothing here judges anything.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/program_options.hpp>

#include "even/client/client.h"
#include "even/common/types.h"

namespace po = boost::program_options;
using namespace even;
using namespace even::client;

namespace {

// One log file, written by several threads a line at a time, each line flushed at once (the rig
// watches the subscribers' logs while they run).
class Log {
 public:
  explicit Log(const std::string& path) : f_(std::fopen(path.c_str(), "a")) {
    if (!f_) throw std::runtime_error("cannot open log " + path);
  }
  ~Log() { std::fclose(f_); }
  void line(const std::string& s) {
    std::lock_guard lock(mu_);
    std::fputs(s.c_str(), f_);
    std::fputc('\n', f_);
    std::fflush(f_);
  }

 private:
  std::mutex mu_;
  std::FILE* f_;  // guarded by mu_
};

// Blocks SIGTERM and SIGINT in every thread (call before starting any); wait_for_stop() takes them.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

void wait_for_stop(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
}

struct AppendArgs {
  std::string name;
  double rate = 333;
  int workers = 8;
  int drain_s = 60;
  int payload_bytes = 100;
};

// One worker: its own stream, one event in flight, paced to `per_worker_rate`.
void run_worker(Client& client, const AppendArgs& a, int w, double per_worker_rate, std::atomic<bool>& stopping,
                std::atomic<std::int64_t>& drain_deadline_us, Log& log) {
  const std::string stream = "cl-" + a.name + "-w" + std::to_string(w);
  const bool serial = w % 2 == 0;
  std::int64_t version = 0;  // the stream's version as this worker made it (serial path)
  const auto interval = std::chrono::duration<double>(1.0 / per_worker_rate);
  auto next = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                      interval * (static_cast<double>(w) / a.workers));
  std::string filler(static_cast<std::size_t>(a.payload_bytes), 'x');
  for (std::int64_t k = 1; !stopping.load(); ++k) {
    std::this_thread::sleep_until(next);
    next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval);
    if (stopping.load()) break;
    NewEvent e;
    e.type = "Tick";
    e.payload = "{\"n\":" + std::to_string(k) + ",\"w\":" + std::to_string(w) + ",\"pad\":\"" + filler + "\"}";
    const std::string id = e.id.to_string();
    const auto expected = !serial ? ExpectedVersion::any()
                          : version == 0 ? ExpectedVersion::no_stream()
                                         : ExpectedVersion::exact(version);
    const std::int64_t sent = unix_now_us();
    for (int attempt = 1;; ++attempt) {
      try {
        auto r = client.append(stream, expected, {e});
        version = r.last_stream_seq.value();
        log.line("A " + id + " " + stream + " " + std::to_string(r.first_global_seq.value()) + " " +
                 std::to_string(r.first_stream_seq.value()) + " " + std::to_string(sent) + " " +
                 std::to_string(unix_now_us()) + " " + std::to_string(attempt) + " " + (r.idempotent ? "1" : "0"));
        break;
      } catch (const Timeout&) {
      } catch (const Unavailable&) {
      } catch (const Error& err) {
        // Wrong version, duplicate, invalid: none of these may happen to a retried append.
        std::string msg = err.what();
        for (auto& c : msg)
          if (c == '\n') c = ' ';
        log.line("E " + id + " " + stream + " " + std::to_string(static_cast<int>(err.code())) + " " + msg);
        return;  // the stream's version is unknown now: this worker stops
      }
      if (stopping.load() && unix_now_us() > drain_deadline_us.load()) {
        log.line("G " + id + " " + stream);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

int run_append(const ClientOptions& options, const AppendArgs& a, const std::string& log_path) {
  const sigset_t signals = block_stop_signals();
  Log log(log_path);
  Client client(options);
  std::atomic<bool> stopping{false};
  std::atomic<std::int64_t> drain_deadline_us{INT64_MAX};
  std::vector<std::thread> workers;
  for (int w = 0; w < a.workers; ++w)
    workers.emplace_back(run_worker, std::ref(client), std::cref(a), w, a.rate / a.workers, std::ref(stopping),
                         std::ref(drain_deadline_us), std::ref(log));
  std::cerr << "even-cluster-client " << a.name << ": appending " << a.rate << " events/s from " << a.workers
            << " workers\n";
  wait_for_stop(signals);
  drain_deadline_us = unix_now_us() + static_cast<std::int64_t>(a.drain_s) * 1000000;
  stopping = true;
  for (auto& t : workers) t.join();
  std::cerr << "even-cluster-client " << a.name << ": stopped\n";
  return 0;
}

int run_subscribe(const ClientOptions& options, const std::string& log_path) {
  const sigset_t signals = block_stop_signals();
  Log log(log_path);
  Client client(options);
  SubscriptionOptions so;
  so.on_state_change = [&](SubscriptionState s, const std::string& detail) {
    log.line(std::string("# state ") + to_string(s) + " " + detail);
  };
  auto sub = client.subscribe(
      GlobalSeq(1), Filter{{"cl"}, {}},
      [&](const RecordedEvent& e) {
        log.line(std::to_string(e.global_seq.value()) + " " + e.id.to_string() + " " + std::to_string(unix_now_us()));
      },
      so);
  wait_for_stop(signals);
  sub->stop();
  if (auto err = sub->error()) {
    try {
      std::rethrow_exception(err);
    } catch (const std::exception& ex) {
      log.line(std::string("# error ") + ex.what());
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode, config, log_path;
  AppendArgs a;
  int timeout_ms = 4000, resend_ms = 500;
  po::options_description desc("even-cluster-client append|subscribe [options]");
  desc.add_options()("help", "this help")("mode", po::value(&mode), "append | subscribe")(
      "config", po::value(&config)->required(), "even.conf with the endpoints (and insecure or the CURVE keys)")(
      "log", po::value(&log_path)->required(), "the log to append lines to")(
      "name", po::value(&a.name)->default_value("c1"), "append: this client's name, in its streams' names")(
      "rate", po::value(&a.rate)->default_value(333), "append: events/s over all workers")(
      "workers", po::value(&a.workers)->default_value(8), "append: threads, one stream and one append in flight each")(
      "payload-bytes", po::value(&a.payload_bytes)->default_value(100), "append: padding in each payload")(
      "drain-s", po::value(&a.drain_s)->default_value(60), "append: after SIGTERM, retry unanswered appends this long")(
      "timeout-ms", po::value(&timeout_ms)->default_value(4000), "a call's timeout (it is then sent again)")(
      "resend-ms", po::value(&resend_ms)->default_value(500), "the client library's resend of an unanswered request");
  po::positional_options_description pos;
  pos.add("mode", 1);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
    if (vm.count("help")) {
      std::cout << desc;
      return 0;
    }
    po::notify(vm);
    if (a.rate <= 0 || a.workers < 1) throw std::runtime_error("--rate and --workers must be positive");
    auto options = ClientOptions::from_file(config);
    options.timeout = std::chrono::milliseconds(timeout_ms);
    options.resend_after = std::chrono::milliseconds(resend_ms);
    if (mode == "append") return run_append(options, a, log_path);
    if (mode == "subscribe") return run_subscribe(options, log_path);
    throw std::runtime_error("mode must be append or subscribe, not '" + mode + "'");
  } catch (const std::exception& ex) {
    std::cerr << "even-cluster-client: " << ex.what() << "\n";
    return 2;
  }
}
