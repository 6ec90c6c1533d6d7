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
  // No ZMTP heartbeats (net.h): a client's flood-and-disconnect would abort the reader.
  auto so = net::SocketOptions::server_router();
  so.recv_hwm = options_.recv_hwm;
  so.send_hwm = options_.send_hwm;
  // Requests above the limit still arrive (and get a tooLarge reply); far above it libzmq drops the peer.
  so.max_msg_bytes = static_cast<std::int64_t>(options_.worker.limits.max_message_bytes) * 2;
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
  // Each busy worker (by routing id): when it got its request (for the request duration
  // histogram) and whose request it is.
  struct Busy {
    std::chrono::steady_clock::time_point since;
    std::string client;
  };
  std::unordered_map<std::string, Busy> busy;
  // Each client connection with requests in the reader (by routing id): those waiting for a
  // worker, and how many it has in all (waiting + at a worker). Erased when it has none, so a
  // gone client leaves nothing behind.
  struct Client {
    std::deque<std::vector<zmq::message_t>> waiting;
    int in_flight = 0;
  };
  std::unordered_map<std::string, Client> clients;
  std::deque<std::string> turns;  // clients with waiting requests, each once: workers serve them in turn
  const std::string refusal = fmt::format(
      "this connection has {} requests in the reader already (--reader.max-requests-in-flight-per-client); "
      "read their replies first",
      options_.max_in_flight_per_client);
  // Requests taken off the frontend per round of the loop, so that replies and the watchdog are not
  // starved by a flood (the rest waits in the socket for the next round).
  constexpr int kMaxTakenPerRound = 1000;
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
  // Sends frames[first..] (routing id, empty delimiter, reply) to a client without blocking. A
  // vanished client, or one that stopped reading: its reply is dropped (it resends if it cares).
  auto send_to_client = [&](std::vector<zmq::message_t>& frames, std::size_t first) {
    bool sent = true;
    for (std::size_t i = first; i < frames.size() && sent; ++i) {
      auto flags = zmq::send_flags::dontwait | (i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
      sent = frontend.send(frames[i], flags).has_value();
    }
    if (sent) ++stats_.replies;
    else {
      ++stats_.dropped;
      probe_.dropped.inc();
    }
  };
  while (!stop_ && !net::shutdown_requested()) {
    report(std::chrono::steady_clock::now());
    zmq::pollitem_t items[] = {{backend.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, shutdown, ZMQ_POLLIN, 0},
                               {nullptr, stop_wakeup_.fd(), ZMQ_POLLIN, 0},
                               {frontend.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 4, std::min(std::chrono::milliseconds(ready ? 1000 : 100), notify_.max_wait()));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;  // a signal (SIGTERM) interrupted the wait
    }
    if (stop_ || net::shutdown_requested()) break;

    while (true) {  // replies and READYs from workers
      frames.clear();
      if (!zmq::recv_multipart(backend, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      if (frames.empty()) continue;
      double seconds = 0.0;
      if (const auto b = busy.find(frames[0].to_string()); b != busy.end()) {
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - b->second.since).count();
        if (auto c = clients.find(b->second.client); c != clients.end() && --c->second.in_flight <= 0)
          clients.erase(c);  // nothing waits either: waiting requests count in in_flight
        busy.erase(b);
      }
      idle.push_back(std::move(frames[0]));
      if (frames.size() < 3) continue;  // READY
      probe_.reply(frames.back().size(), seconds);
      send_to_client(frames, 1);
    }
    for (int taken = 0; taken < kMaxTakenPerRound; ++taken) {  // requests from clients
      frames.clear();
      if (!zmq::recv_multipart(frontend, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      if (frames.size() < 2) continue;
      ++stats_.requests;
      const RequestHead head = peek_request(frames.back().data(), frames.back().size());
      probe_.request(head.kind);
      std::string key = frames[0].to_string();
      auto& client = clients[key];
      if (client.in_flight >= options_.max_in_flight_per_client) {
        // Refused at once, without a read: the reply is small, and the client's connection is
        // emptied as fast as it was filled (a gone client's pipe is then freed by libzmq).
        ++stats_.refused;
        frames.back() = encode_error(head.request_id, schema::ErrorCode::BUSY, refusal);
        probe_.refused_reply(frames.back().size());
        send_to_client(frames, 0);
        continue;
      }
      ++client.in_flight;
      if (client.waiting.empty()) turns.push_back(key);
      client.waiting.push_back(std::move(frames));  // frames is cleared before its next use
    }
    while (!idle.empty() && !turns.empty()) {  // waiting requests to idle workers, a client at a time
      std::string key = std::move(turns.front());
      turns.pop_front();
      auto& client = clients.at(key);
      auto request = std::move(client.waiting.front());
      client.waiting.pop_front();
      if (!client.waiting.empty()) turns.push_back(key);
      busy[idle.front().to_string()] = Busy{std::chrono::steady_clock::now(), std::move(key)};
      backend.send(idle.front(), zmq::send_flags::sndmore);
      idle.pop_front();
      for (std::size_t i = 0; i < request.size(); ++i)
        backend.send(request[i], i + 1 < request.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    probe_.workers_busy.set(double(workers.size() - idle.size()));
    auto now = std::chrono::steady_clock::now();
    if (now - last_stats >= std::chrono::seconds(30) && stats_.requests > 0) {
      log_->info("{} requests, {} replies, {} replies dropped, {} requests refused busy so far", stats_.requests,
                 stats_.replies, stats_.dropped, stats_.refused);
      last_stats = now;
    }
  }
  notify_.stopping();
  for (auto& w : workers) w->request_stop();
  workers.clear();  // joins; a worker in the middle of a read finishes it first
  log_->info("stopped after {} requests ({} replies, {} dropped, {} refused busy)", stats_.requests, stats_.replies,
             stats_.dropped, stats_.refused);
  return 0;
}

}  // namespace even::reader
