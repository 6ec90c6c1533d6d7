#include "reader/reader_service.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <deque>
#include <unordered_map>
#include <spdlog/fmt/fmt.h>
#include <zmq_addon.hpp>

namespace even::reader {

ReaderService::ReaderService(zmq::context_t& ctx, config::DbOptions db, ReaderOptions options,
                             std::shared_ptr<spdlog::logger> log)
    : ctx_(ctx),
      db_(std::move(db)),
      options_(std::move(options)),
      log_(std::move(log)),
      registry_(options_.metrics ? options_.metrics : std::make_shared<metrics::Registry>()),
      probe_(*registry_),
      notify_(options_.notifier, "reader") {}

ReaderService::~ReaderService() = default;

void ReaderService::request_stop() {
  stop_ = true;
  stop_wakeup_.notify();
}

int ReaderService::run() {
  const int shutdown = net::shutdown_fd();
  zmq::socket_t frontend(ctx_, zmq::socket_type::router);
  zmq::socket_t backend(ctx_, zmq::socket_type::router);
  net::SocketOptions so;
  so.recv_hwm = options_.recv_hwm;
  so.send_hwm = options_.send_hwm;
  // Requests above the limit still arrive (and get a tooLarge reply); far above it libzmq drops the peer.
  so.max_msg_bytes = static_cast<std::int64_t>(options_.worker.limits.max_message_bytes) * 2;
  so.heartbeat_ivl_ms = 0;  // see net.h: a client's flood-and-disconnect would abort the reader
  so.tcp_keepalive_idle_s = 30;
  net::configure(frontend, so);
  if (options_.auth) options_.auth->secure(frontend, options_.endpoint, curve::Role::read);
  frontend.set(zmq::sockopt::router_mandatory, 0);
  frontend.bind(options_.endpoint);
  backend.set(zmq::sockopt::linger, 0);
  const std::string backend_endpoint = "inproc://even-reader-workers-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
  backend.bind(backend_endpoint);

  std::vector<std::unique_ptr<ReadWorker>> workers;
  for (int i = 0; i < options_.workers; ++i)
    workers.push_back(std::make_unique<ReadWorker>(i, ctx_, backend_endpoint, db_, options_.worker, probe_, log_));
  log_->info("serving reads on {} with {} workers (pages of at most {} events / {} bytes), store '{}' at {}",
             options_.endpoint, options_.workers, options_.worker.page.max_events, options_.worker.page.max_bytes,
             db_.name, db_.url);

  std::deque<zmq::message_t> idle;  // routing ids of idle workers
  // When each busy worker got its request (by routing id), for the request duration histogram.
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> busy_since;
  probe_.workers.set(double(workers.size()));
  std::vector<zmq::message_t> frames;
  auto last_stats = std::chrono::steady_clock::now();
  // systemd: READY=1 once the ROUTER is bound and a worker reached the store; then what it serves.
  bool ready = false;
  auto last_report = last_stats;
  std::uint64_t report_requests = 0;
  auto report = [&](std::chrono::steady_clock::time_point now) {
    notify_.alive();
    if (ready && now - last_report < std::chrono::seconds(2)) return;
    int connected = 0;
    for (const auto& w : workers) connected += w->store_connected() ? 1 : 0;
    if (!ready && connected == 0) {
      notify_.status("bound " + options_.endpoint + "; waiting for the store '" + db_.name + "' at " + db_.url);
      return;
    }
    const double secs = std::chrono::duration<double>(now - last_report).count();
    const std::string text = fmt::format("serving reads on {}; {:.0f} requests/s; {} of {} workers connected to the store",
                                         options_.endpoint, ready && secs > 0 ? double(stats_.requests - report_requests) / secs : 0.0,
                                         connected, workers.size());
    if (!ready) notify_.ready(text);
    else notify_.status(text);
    ready = true;
    last_report = now;
    report_requests = stats_.requests;
  };
  while (!stop_ && !net::shutdown_requested()) {
    report(std::chrono::steady_clock::now());
    zmq::pollitem_t items[] = {{backend.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, shutdown, ZMQ_POLLIN, 0},
                               {nullptr, stop_wakeup_.fd(), ZMQ_POLLIN, 0},
                               {frontend.handle(), 0, ZMQ_POLLIN, 0}};
    // Only take requests while a worker is idle: otherwise they wait in the frontend's queue.
    try {
      zmq::poll(items, idle.empty() ? 3 : 4, std::min(std::chrono::milliseconds(ready ? 1000 : 100), notify_.max_wait()));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;  // a signal (SIGTERM) interrupted the wait
    }
    if (stop_ || net::shutdown_requested()) break;

    while (true) {  // replies and READYs from workers
      frames.clear();
      if (!zmq::recv_multipart(backend, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      if (frames.empty()) continue;
      const auto started = busy_since.find(frames[0].to_string());
      const double seconds = started == busy_since.end()
                                 ? 0.0
                                 : std::chrono::duration<double>(std::chrono::steady_clock::now() - started->second).count();
      if (started != busy_since.end()) busy_since.erase(started);
      idle.push_back(std::move(frames[0]));
      if (frames.size() < 3) continue;  // READY
      probe_.reply(frames.back().size(), seconds);
      bool sent = true;
      for (std::size_t i = 1; i < frames.size() && sent; ++i) {
        auto flags = zmq::send_flags::dontwait | (i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
        sent = frontend.send(frames[i], flags).has_value();
      }
      // A vanished client, or one that stopped reading: its reply is dropped (it resends if it cares).
      if (sent) ++stats_.replies;
      else {
        ++stats_.dropped;
        probe_.dropped.inc();
      }
    }
    while (!idle.empty()) {  // requests from clients
      frames.clear();
      if (!zmq::recv_multipart(frontend, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      if (frames.size() < 2) continue;
      ++stats_.requests;
      probe_.request(frames.back().data(), frames.back().size());
      busy_since[idle.front().to_string()] = std::chrono::steady_clock::now();
      backend.send(idle.front(), zmq::send_flags::sndmore);
      idle.pop_front();
      for (std::size_t i = 0; i < frames.size(); ++i)
        backend.send(frames[i], i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    probe_.workers_busy.set(double(workers.size() - idle.size()));
    auto now = std::chrono::steady_clock::now();
    if (now - last_stats >= std::chrono::seconds(30) && stats_.requests > 0) {
      log_->info("{} requests, {} replies, {} replies dropped so far", stats_.requests, stats_.replies, stats_.dropped);
      last_stats = now;
    }
  }
  notify_.stopping();
  for (auto& w : workers) w->request_stop();
  workers.clear();  // joins; a worker in the middle of a read finishes it first
  log_->info("stopped after {} requests ({} replies, {} dropped)", stats_.requests, stats_.replies, stats_.dropped);
  return 0;
}

}  // namespace even::reader
