// Hostile clients against every server socket (issue 16, item 4): real even-writer,
// even-dispatcher and even-reader processes on a private store; tests/security/hostile_client.py
// (python3-zmq, not the project's library) sends junk, oversized and absurd frames, forged feed
// batches, junk subscriptions and floods to the writer ROUTER, the reader ROUTER, the dispatcher's
// PULL feed and its PUB, while a well-behaved client keeps appending and reading. Checks: every
// good append succeeds, its p99 under attack is within 5x of a quiet run, each server's RSS grows
// by less than 64 MiB, the servers are up at the end, the events table holds exactly the good
// events, and a raw subscriber of the PUB saw exactly the good events, in order.
//
// EVEN_HOSTILE_LONG=1 runs the long version (5 rounds of every attack, larger floods).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "even/client/client.h"
#include "even/common/feed.h"
#include "even/common/net.h"
#include "even/common/wire.h"
#include "support/process.h"
#include "support/test_env.h"
#include "support/test_client.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Under AddressSanitizer (the CI's second build) the servers are several times slower and their
// RSS holds ASan's quarantine of freed memory (256 MB by default) and shadow: the servers run
// without quarantine, and the latency floor below is higher.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

std::vector<std::string> service_env() {
  if (!kSanitized) return {};
  const char* inherited = std::getenv("ASAN_OPTIONS");
  std::string options = inherited ? std::string(inherited) + ":" : "";
  return {"ASAN_OPTIONS=" + options + "quarantine_size_mb=0:thread_local_quarantine_size_kb=0"};
}

struct Good {
  std::uint64_t global_seq;
  EventId id;
  std::string stream;
  std::string payload;
  bool operator==(const Good&) const = default;
};

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * double(v.size())))];
}

// Every event the dispatcher publishes, read from its PUB with a raw SUB socket (no catch-up,
// no dedup: what the PUB said is what is recorded). Owns its socket and thread.
class RawSubscriber {
 public:
  RawSubscriber(zmq::context_t& ctx, const std::string& endpoint) : sub_(ctx, zmq::socket_type::sub) {
    net::SocketOptions so;
    so.recv_hwm = 1000000;
    net::configure(sub_, so);
    sub_.set(zmq::sockopt::subscribe, feed::kEventTopicPrefix);
    sub_.set(zmq::sockopt::subscribe, feed::kHeartbeatTopic);
    sub_.connect(endpoint);
    thread_ = std::thread([this] { run(); });
  }
  ~RawSubscriber() {
    stop_ = true;
    thread_.join();
  }
  bool wait_heartbeat(std::chrono::milliseconds t) {
    const auto deadline = Clock::now() + t;
    while (heartbeats_ == 0 && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
    return heartbeats_ > 0;
  }
  bool wait_for(std::uint64_t global_seq, std::chrono::milliseconds t) {
    const auto deadline = Clock::now() + t;
    while (Clock::now() < deadline) {
      {
        std::lock_guard lock(mu_);
        if (!events_.empty() && events_.back().global_seq >= global_seq) return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  std::vector<Good> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  int malformed() const { return malformed_; }

 private:
  void run() {
    zmq::pollitem_t item{sub_.handle(), 0, ZMQ_POLLIN, 0};
    wire::Limits limits;
    while (!stop_) {
      if (net::poll(&item, 1, 100ms) == 0) continue;
      while (auto m = wire::recv_with_topic(sub_)) {
        auto decoded = wire::decode<schema::FeedMessage>(std::move(m->message), limits);
        auto* d = std::get_if<wire::Decoded>(&decoded);
        if (!d) {
          ++malformed_;
          continue;
        }
        auto root = d->root<schema::FeedMessage>();
        if (root.isHeartbeat()) {
          ++heartbeats_;
          continue;
        }
        auto e = wire::decode(root.getEvent().getEvent());
        std::lock_guard lock(mu_);
        events_.push_back({e.global_seq.value(), e.id, e.stream, e.payload});
      }
    }
  }
  zmq::socket_t sub_;
  std::atomic<bool> stop_{false};
  std::atomic<int> heartbeats_{0}, malformed_{0};
  std::mutex mu_;
  std::vector<Good> events_;  // guarded by mu_
  std::thread thread_;
};

class HostileClients : public ::testing::Test {
 protected:
  std::string log_path(const std::string& name) {
    return ::testing::TempDir() + "hostile-" + name + "-" + std::to_string(::getpid()) + ".log";
  }
  std::unique_ptr<Process> start(std::vector<std::string> args, const std::string& name) {
    for (auto& f : db_flags(store_.db())) args.push_back(f);
    return std::make_unique<Process>(args, log_path(name), service_env());
  }

  // The well-behaved client: one append every `pace` (to streams good-0..good-9, JSON payload
  // naming its number), and a read of a stream every 10th append, until `until()` says stop.
  // Returns the append latencies in ms; failures are counted in failures_.
  template <typename Until>
  std::vector<double> run_good(client::Client& c, Until until, std::chrono::milliseconds pace = 10ms) {
    std::vector<double> latencies;
    while (!until()) {
      const int i = next_++;
      client::NewEvent e;
      e.type = "Good";
      e.payload = "{\"i\":" + std::to_string(i) + "}";
      const std::string stream = "good-" + std::to_string(i % 10);
      const auto t0 = Clock::now();
      try {
        auto r = c.append(stream, ExpectedVersion::any(), {e});
        latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        acked_.push_back({r.first_global_seq.value(), e.id, stream, e.payload});
        if (i % 10 == 9) {
          auto read = c.read_stream(stream, StreamSeq(1)).to_vector();
          if (read.empty() || read.back().id != e.id) ++read_failures_;
        }
      } catch (const std::exception& ex) {
        ++failures_;
        ADD_FAILURE() << "good append " << i << " failed: " << ex.what();
      }
      std::this_thread::sleep_until(t0 + pace);
    }
    return latencies;
  }

  TestStore store_;
  std::vector<Good> acked_;
  int next_ = 0, failures_ = 0, read_failures_ = 0;
};

TEST_F(HostileClients, ServersKeepServingGoodClientsAndTheStoreHoldsOnlyGoodEvents) {
  const bool long_run = std::getenv("EVEN_HOSTILE_LONG") && std::string(std::getenv("EVEN_HOSTILE_LONG")) == "1";
  // Ports come from loopback_endpoint(), free a moment ago: another test on the machine may take
  // one first, so a start-up that fails with "Address already in use" is retried on new ports.
  std::string writer_ep, reader_ep, pull_ep, pub_ep;
  std::unique_ptr<Process> dispatcher, writer, reader;
  for (int attempt = 0;; ++attempt) {
    writer_ep = loopback_endpoint(), reader_ep = loopback_endpoint();
    pull_ep = loopback_endpoint(), pub_ep = loopback_endpoint();
    dispatcher = start({bin("services/dispatcher/even-dispatcher"), "--dispatcher-pull-endpoint", pull_ep,
                        "--dispatcher-pub-endpoint", pub_ep},
                       "dispatcher");
    writer = start({bin("services/writer/even-writer"), "--writer-endpoint", writer_ep,
                    "--dispatcher-pull-endpoint", pull_ep},
                   "writer");
    reader = start({bin("services/reader/even-reader"), "--reader-endpoint", reader_ep}, "reader");
    const bool up = writer->wait_for_log("serving appends", 30s) && reader->wait_for_log("serving reads", 30s) &&
                    dispatcher->wait_for_log("pulling committed events", 30s);
    if (up) break;
    const std::string logs = dispatcher->log() + writer->log() + reader->log();
    ASSERT_TRUE(attempt < 3 && logs.find("Address already in use") != std::string::npos) << logs;
    dispatcher.reset(), writer.reset(), reader.reset();
  }

  zmq::context_t ctx;
  RawSubscriber sub(ctx, pub_ep);
  ASSERT_TRUE(sub.wait_heartbeat(30s)) << dispatcher->log();

  client::Client good(test::client_options(writer_ep, reader_ep, pub_ep, 30s));

  // Quiet run: the same client and pace, nobody else; half before the attack, half after it, so
  // that a machine busier in one phase than in the other weighs on both sides of the ratio.
  const auto quiet_phase = long_run ? 5s : 2500ms;
  const auto quiet_end = Clock::now() + quiet_phase;
  auto quiet = run_good(good, [&] { return Clock::now() >= quiet_end; });
  const long rss_before[] = {rss_kib(writer->pid()), rss_kib(reader->pid()), rss_kib(dispatcher->pid())};

  // Under attack, for as long as the hostile client runs.
  // The attacker runs at a lower priority: on a real network it has a machine of its own, here it
  // shares the two cores with the servers and the good client.
  std::vector<std::string> argv = {"/usr/bin/nice", "-n", "10", "/usr/bin/python3", HOSTILE_CLIENT_PY, "--writer", writer_ep, "--reader", reader_ep,
                                   "--feed", pull_ep, "--pub", pub_ep, "--forge-upto",
                                   std::to_string(acked_.back().global_seq + 500)};
  if (long_run) {
    for (const char* a : {"--rounds", "5", "--flood", "50000", "--connects", "1000"})
      argv.push_back(a);
  }
  Process hostile(argv, log_path("client"));
  const auto attack_deadline = Clock::now() + (long_run ? 900s : 240s);
  const auto attacked = run_good(good, [&] { return !hostile.running() || Clock::now() >= attack_deadline; });
  const int hostile_exit = hostile.wait(10s);
  const long rss_after[] = {rss_kib(writer->pid()), rss_kib(reader->pid()), rss_kib(dispatcher->pid())};
  const auto quiet_after_end = Clock::now() + quiet_phase;
  const auto quiet_after = run_good(good, [&] { return Clock::now() >= quiet_after_end; });
  quiet.insert(quiet.end(), quiet_after.begin(), quiet_after.end());
  const std::string hostile_log = hostile.log();
  std::cout << hostile_log;
  EXPECT_EQ(hostile_exit, 0) << "the hostile client failed or found a server accepting a lie:\n" << hostile_log;
  EXPECT_NE(hostile_log.find("hostile: done"), std::string::npos);

  // Latency: p99 under attack within 5x of the quiet run's (floored at 10 ms, 50 ms under ASan:
  // on the shared 2-core machine a quiet p99 of 2-3 ms is scheduling noise, not the service).
  const double quiet_p99 = percentile(quiet, 0.99), attacked_p99 = percentile(attacked, 0.99);
  const double floor_ms = kSanitized ? 50.0 : 10.0;
  std::cout << "good appends: quiet " << quiet.size() << " p50 " << percentile(quiet, 0.5) << " ms p99 " << quiet_p99
            << " ms; under attack " << attacked.size() << " p50 " << percentile(attacked, 0.5) << " ms p99 "
            << attacked_p99 << " ms (ratio " << attacked_p99 / std::max(quiet_p99, 1e-3) << ")\n";
  EXPECT_EQ(failures_, 0);
  EXPECT_EQ(read_failures_, 0);
  EXPECT_GE(attacked.size(), 20u) << "the attack was too short to measure";
  EXPECT_LE(attacked_p99, 5 * std::max(quiet_p99, floor_ms));

  // Memory: each server grew by less than 64 MiB; all of them still run.
  const char* names[] = {"even-writer", "even-reader", "even-dispatcher"};
  for (int i = 0; i < 3; ++i) {
    std::cout << names[i] << " RSS " << rss_before[i] / 1024 << " MiB -> " << rss_after[i] / 1024 << " MiB\n";
    EXPECT_GT(rss_after[i], 0) << names[i] << " is gone";
    EXPECT_LT(rss_after[i] - rss_before[i], 64 * 1024) << names[i];
  }
  EXPECT_TRUE(writer->running()) << writer->log();
  EXPECT_TRUE(reader->running()) << reader->log();
  EXPECT_TRUE(dispatcher->running()) << dispatcher->log();

  // The store: exactly the good events, with their positions, streams and payloads.
  ASSERT_FALSE(acked_.empty());
  EXPECT_EQ(store_.scalar("SELECT COUNT(*) FROM events"), static_cast<std::int64_t>(acked_.size()));
  std::vector<Good> stored;
  {
    auto c = store_.connect();
    auto rs = c->query("SELECT global_seq, event_id, stream, payload FROM events ORDER BY global_seq");
    while (rs->next()) {
      auto id_bytes = rs->getString(2);
      stored.push_back({rs->getUInt64(1), EventId::from_bytes(id_bytes.c_str(), id_bytes.length()).value_or(EventId()),
                        rs->getString(3), rs->getString(4)});
    }
  }
  EXPECT_TRUE(stored == acked_) << "the events table differs from what the good client appended ("
                                << stored.size() << " rows, " << acked_.size() << " acknowledged)";
  EXPECT_EQ(store_.scalar("SELECT COUNT(*) FROM streams WHERE stream NOT LIKE 'good-%'"), 0);

  // The feed: a raw subscriber saw exactly the good events, in order, and no forged one.
  ASSERT_TRUE(sub.wait_for(acked_.back().global_seq, 30s)) << dispatcher->log();
  const auto published = sub.events();
  EXPECT_EQ(sub.malformed(), 0);
  EXPECT_EQ(published.size(), acked_.size());
  EXPECT_TRUE(published == acked_) << "the PUB published something else than the good events";
  std::cout << "store and feed: " << stored.size() << " good events, " << published.size() << " published\n";
}

}  // namespace
}  // namespace even::test
