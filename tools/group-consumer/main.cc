// even-group-consumer: one consumer of a persistent subscription group, as a process of its own,
// for tests and even-bench group (tools/bench/README.md). Each event handled is written as a line
// to --out before its ack is sent, so a consumer SIGKILLed mid-run leaves the events it handled
// (acked or not) in its file:
//
//   <CLOCK_MONOTONIC ns> <global_seq> <stream> <stream_seq> <retry_count> <replayed 0|1>
//
// CLOCK_MONOTONIC is one clock for the whole machine, so the files of several consumers merge
// into one timeline. With --acked, the global position of each acked event is written to that file
// (a line each) once its ack message is sent. Events of --fail-type are always nacked (retried,
// then parked).
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <thread>

#include "even/client/persistent_subscription.h"
#include "even/common/config.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int consumer_main(int argc, char** argv) {
  using namespace even;
  namespace po = config::po;
  client::ClientOptions co;
  std::string group, out, acked_out, fail_type;
  std::uint32_t max_in_flight = 0;
  int work_us = 0;
  po::options_description desc("even-group-consumer options");
  desc.add_options()
      ("groups-endpoint", po::value(&co.groups_endpoint)->default_value(co.groups_endpoint), "even-groups' address")
      ("group", po::value(&group), "the group to consume")
      ("out", po::value(&out), "append a line per event handled to this file (default: none)")
      ("acked", po::value(&acked_out), "append the global position of each event acked, once its ack is sent")
      ("max-in-flight", po::value(&max_in_flight)->default_value(0), "this consumer's room (0: the group's)")
      ("fail-type", po::value(&fail_type), "always fail (nack) events of this type")
      ("work-us", po::value(&work_us)->default_value(0), "spend this long per event (sleeps)");
  config::add_security_options(desc, co.security);
  auto vm = config::parse(argc, argv, desc, "Usage: even-group-consumer --group NAME [--out FILE] [options]");
  if (!vm) return 0;
  if (group.empty()) throw po::error("--group is required");
  config::check_client_keys(co.security, co.groups_endpoint, config::Server::groups, "groups-endpoint");
  int fd = -1;
  if (!out.empty()) {
    fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot open " + out);
  }
  int acked_fd = -1;
  if (!acked_out.empty()) {
    acked_fd = ::open(acked_out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (acked_fd < 0) throw std::runtime_error("cannot open " + acked_out);
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  client::PersistentSubscriptionOptions so;
  so.max_in_flight = max_in_flight;
  so.on_notice = [](const std::string& text) { std::cerr << "even-group-consumer: " << text << std::endl; };
  if (acked_fd >= 0)
    so.on_acked = [&](const std::vector<GlobalSeq>& seqs) {
      std::string lines;
      for (auto s : seqs) lines += std::to_string(s.value()) + "\n";
      if (::write(acked_fd, lines.data(), lines.size()) != static_cast<ssize_t>(lines.size()))
        std::cerr << "even-group-consumer: cannot write " << acked_out << std::endl;
    };
  std::string line;
  client::PersistentSubscription sub(
      co, group,
      [&](const RecordedEvent& e, const client::DeliveryInfo& info) {
        if (work_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(work_us));
        if (fd >= 0) {
          timespec ts{};
          ::clock_gettime(CLOCK_MONOTONIC, &ts);
          line = std::to_string(std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec) + " " +
                 std::to_string(e.global_seq.value()) + " " + e.stream + " " + std::to_string(e.stream_seq.value()) +
                 " " + std::to_string(info.retry_count) + " " + (info.replayed ? "1" : "0") + "\n";
          if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
            throw std::runtime_error("cannot write " + out);
        }
        if (!fail_type.empty() && e.type == fail_type) throw std::runtime_error("fails by request (--fail-type)");
      },
      so);
  while (!g_stop && sub.running()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  sub.stop();
  const auto st = sub.stats();
  std::cerr << "even-group-consumer: handled " << st.handled << ", acked " << st.acked << ", retried " << st.retried
            << ", refused " << st.refused << std::endl;
  if (auto err = sub.error()) std::rethrow_exception(err);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("even-group-consumer", consumer_main, argc, argv); }
