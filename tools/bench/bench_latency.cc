// even-bench latency: end-to-end delivery latency, from the append request to the event's
// arrival at a CatchUpSubscription, at a fixed rate through even-writer -> even-dispatcher -> PUB.
// Prints one JSON line: {"bench":"latency","rate":R,"seconds":S,"sent":..,"delivered":..,
// "p50_ms":..,"p99_ms":..,"max_ms":..}; delivered must equal sent.
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench/bench.h"
#include "even/client/client.h"
#include "even/common/net.h"

namespace even::bench {

int bench_latency(int argc, char** argv) {
  namespace po = config::po;
  config::DbOptions db;
  int rate = 10000;
  int seconds = 10;
  int tick_us = 1000;
  std::string writer_ep, pull_ep, pub_ep, reader_ep;
  po::options_description desc("even-bench latency options");
  desc.add_options()
      ("rate", po::value(&rate)->default_value(rate), "events appended per second (one event per append)")
      ("seconds", po::value(&seconds)->default_value(seconds), "how long to append")
      ("tick-us", po::value(&tick_us)->default_value(tick_us),
       "the sender wakes this often and sends what is due (each event's latency counts from its own send)")
      ("writer-endpoint", po::value(&writer_ep)->default_value(""), "use this running writer (with the other "
       "three endpoints) instead of starting services")
      ("reader-endpoint", po::value(&reader_ep)->default_value(""), "the running reader")
      ("dispatcher-pub-endpoint", po::value(&pub_ep)->default_value(""), "the running dispatcher's PUB");
  SecurityOptions security;  // for running services; the services started here get keys of the run
  config::add_security_options(desc, security);
  config::add_db_options(desc, db);
  auto vm = config::parse(argc, argv, desc, "Usage: even-bench latency --rate R --seconds S [options]");
  if (!vm) return 0;
  if (rate <= 0 || seconds <= 0) throw po::error("--rate and --seconds must be positive");

  // Services: started here on loopback against a scratch store, unless given.
  std::unique_ptr<ScratchStore> scratch;
  std::vector<std::unique_ptr<ServiceProcess>> services;
  std::unique_ptr<BenchKeys> keys;
  if (writer_ep.empty()) {
    keys = std::make_unique<BenchKeys>(security.insecure);
    auto server = ensure_database(db, !(*vm)["db-url"].defaulted());
    scratch = std::make_unique<ScratchStore>(server);
    auto ep = [] { return "tcp://127.0.0.1:" + std::to_string(net::free_loopback_port()); };
    writer_ep = ep(), pull_ep = ep(), pub_ep = ep(), reader_ep = ep();
    const auto& s = scratch->db();
    std::vector<std::string> dbf = config::db_flags(s);
    dbf.insert(dbf.end(), {"--log-level", std::getenv("EVEN_BENCH_LOG") ? std::getenv("EVEN_BENCH_LOG") : "warn"});
    auto with = [&](std::vector<std::string> a) {
      a.insert(a.end(), dbf.begin(), dbf.end());
      a.insert(a.end(), keys->service_args().begin(), keys->service_args().end());
      return a;
    };
    services.push_back(std::make_unique<ServiceProcess>("dispatcher", with({"--dispatcher-pull-endpoint", pull_ep,
                                                                             "--dispatcher-pub-endpoint", pub_ep})));
    services.push_back(std::make_unique<ServiceProcess>("reader", with({"--reader-endpoint", reader_ep})));
    services.push_back(std::make_unique<ServiceProcess>(
        "writer", with({"--writer-endpoint", writer_ep, "--dispatcher-pull-endpoint", pull_ep})));
  }
  client::ClientOptions co;
  co.security = security;
  if (keys) keys->apply(co);
  co.writer_endpoint = writer_ep;
  co.reader_endpoint = reader_ep;
  co.feed_endpoint = pub_ep;
  co.timeout = std::chrono::seconds(30);
  client::Client client(co);
  client.ping_writer(std::chrono::seconds(30));

  const std::size_t total = static_cast<std::size_t>(rate) * static_cast<std::size_t>(seconds);
  std::vector<std::atomic<std::int64_t>> sent_ns(total);  // send time of event i (steady clock)
  std::vector<double> latency_ms(total, -1);             // subscriber thread only
  std::atomic<std::size_t> delivered{0};
  const auto t0 = Clock::now();
  auto since_t0_ns = [&] { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count(); };

  // The payload is the event's index; the subscriber measures from its send time.
  auto sub = client.subscribe(GlobalSeq(client.head().value() + 1), client::Filter{{"lat"}, {}},
                              [&](const client::RecordedEvent& e) {
                                const std::size_t i = std::stoull(e.payload);
                                if (i >= total || latency_ms[i] >= 0) return;
                                latency_ms[i] = static_cast<double>(since_t0_ns() - sent_ns[i].load()) / 1e6;
                                ++delivered;
                              });
  for (int i = 0; i < 200 && !sub->live(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (!sub->live()) throw std::runtime_error("the subscription did not go live (is the dispatcher up?)");

  std::cerr << "[bench] latency: " << rate << " events/s for " << seconds << " s\n";
  // Replies arrive in completion handlers (on the client's I/O thread), so the sender keeps its
  // pace; the time to the reply is measured too, to tell the writer's share of the latency.
  std::vector<double> ack_ms(total, -1);
  std::atomic<std::size_t> answered{0}, failed{0};
  const auto start = Clock::now();
  std::size_t sent = 0;
  while (sent < total) {
    const double elapsed = seconds_since(start);
    const auto due = std::min(total, static_cast<std::size_t>(elapsed * rate) + 1);
    for (; sent < due; ++sent) {
      client::NewEvent e;
      e.type = "Timed";
      e.payload = std::to_string(sent);
      e.format = client::PayloadFormat::binary;
      sent_ns[sent] = since_t0_ns();
      client.append_async("lat-" + std::to_string(sent % 64), ExpectedVersion::any(), {e},
                          [&, i = sent](const client::AppendResult* r, std::exception_ptr error) {
                            if (r) {
                              ack_ms[i] = static_cast<double>(since_t0_ns() - sent_ns[i].load()) / 1e6;
                            } else if (failed++ == 0) {
                              try {
                                std::rethrow_exception(error);
                              } catch (const std::exception& ex) {
                                std::cerr << "[bench] append failed: " << ex.what() << "\n";
                              }
                            }
                            ++answered;
                          });
    }
    std::this_thread::sleep_for(std::chrono::microseconds(tick_us));
  }
  while (answered.load() < total) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (delivered.load() < total - failed.load() && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  sub->stop();

  std::vector<double> samples;
  samples.reserve(total);
  for (double l : latency_ms)
    if (l >= 0) samples.push_back(l);
  auto p = percentiles(samples);
  nlohmann::ordered_json out;
  out["bench"] = "latency";
  out["rate"] = rate;
  out["seconds"] = seconds;
  out["sent"] = total - failed.load();
  out["delivered"] = delivered.load();
  out["p50_ms"] = std::round(p.p50 * 1000) / 1000;
  out["p99_ms"] = std::round(p.p99 * 1000) / 1000;
  out["max_ms"] = std::round(p.max * 1000) / 1000;
  std::vector<double> acks;
  for (double l : ack_ms)
    if (l >= 0) acks.push_back(l);
  auto a = percentiles(acks);
  out["append_reply_p50_ms"] = std::round(a.p50 * 1000) / 1000;
  out["append_reply_p99_ms"] = std::round(a.p99 * 1000) / 1000;
  std::cout << out.dump() << std::endl;
  return delivered.load() == total - failed.load() && failed.load() == 0 ? 0 : 1;
}

}  // namespace even::bench
