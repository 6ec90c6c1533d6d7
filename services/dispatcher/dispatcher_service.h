// DispatcherService: the even-dispatcher process's main loop. PULLs committed events from the
// writer, believes only those the store holds (FeedVerifier), orders them with a GapTracker
// (reading the store for what did not arrive), publishes them with a FeedPublisher on PUB,
// heartbeats, and polls the store when the writer is silent.
//
// Owns its sockets (PULL, PUB) and its store connection; run() is called on one thread and
// returns after shutdown (SIGTERM, or request_stop() from any thread).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>
#include <zmq.hpp>

#include "dispatcher/feed_publisher.h"
#include "dispatcher/feed_verifier.h"
#include "dispatcher/gap_store.h"
#include "dispatcher/gap_tracker.h"
#include "dispatcher/log_throttle.h"
#include "dispatcher/probe.h"
#include "even/common/config.h"
#include "even/common/net.h"
#include "even/common/service_notify.h"
#include "even/common/wire.h"
#include "even/common/zap.h"

namespace even::dispatcher {

struct DispatcherOptions {
  std::string pull_endpoint = "tcp://127.0.0.1:5551";  // bind; the writer PUSHes here
  std::string pub_endpoint = "tcp://127.0.0.1:5552";   // bind; subscribers connect
  std::chrono::milliseconds heartbeat{100};             // heartbeat period (sent under load too)
  std::chrono::milliseconds poll{200};                  // read the store head when the writer was silent this long
  std::optional<std::uint64_t> start_from;              // publish from this global seq; default: the store head
  int pull_hwm = 100000;
  int pub_hwm = 100000;                                 // messages queued per subscriber; then it drops
  wire::Limits limits;
  GapOptions gap;
  PublisherOptions publisher;
  // Where READY/STATUS/WATCHDOG go (systemd); null: this service is the process (one from the
  // environment, a no-op without NOTIFY_SOCKET). even-server shares one between its services.
  std::shared_ptr<notify::ServiceNotifier> notifier;
  // Where the dispatcher's metrics go (dispatcher/probe.h); null: a registry of its own that
  // nobody serves.
  std::shared_ptr<metrics::Registry> metrics;
  // CURVE: makes the PULL (role feed) and the PUB (role subscribe) CURVE servers; null: plain.
  std::shared_ptr<zap::Authenticator> auth;
};

class DispatcherService {
 public:
  DispatcherService(zmq::context_t& ctx, config::DbOptions db, DispatcherOptions options,
                    std::shared_ptr<spdlog::logger> log);

  // Binds, resumes from the store, serves until stopped. Returns the exit code (0: clean stop).
  int run();
  // Thread-safe; run() returns soon after.
  void request_stop();

 private:
  bool stopping() const;
  GlobalSeq resume_position();
  void receive_batches(net::Clock::time_point now);
  // Checks the claims of one wake-up's frames against the store and hands what it holds to the
  // tracker; logs what it refuses. `senders` names the peer of each claim's `sender` tag.
  void offer_verified(std::vector<FeedClaim> claims, const std::vector<std::string>& senders,
                      net::Clock::time_point now);
  void store_work(net::Clock::time_point now);
  // A store call threw: counts and logs it (throttled), holds store work back for `retry_after`
  // and makes /health/ready say "not ready" with the error (the dispatcher needs its store to
  // fill gaps), through ServiceNotify::not_ready as the writer does while its store is
  // unreachable. `doing` completes the log line ("while publishing"; may be empty).
  void store_failed(const sql::SQLException& e, std::string_view doing, net::Clock::time_point now,
                    std::chrono::milliseconds retry_after);
  // Ready again once the store answered a call after the last failure. Called every loop turn.
  void ready_when_store_answers();
  void log_stats(bool force);

  zmq::context_t& ctx_;
  DispatcherOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<metrics::Registry> registry_;
  DispatcherProbe probe_;
  MysqlGapStore store_;
  zmq::socket_t pull_;
  zmq::socket_t pub_;
  FeedPublisher publisher_;
  GapTracker tracker_;
  FeedVerifier verifier_;
  net::Wakeup stop_wakeup_;
  std::atomic<bool> stop_{false};

  net::Clock::time_point last_push_{};    // the last frame with an event the store holds
  bool recheck_head_ = false;             // feed events went unchecked (store error): poll the head
  net::Clock::time_point next_poll_{};
  net::Clock::time_point next_heartbeat_{};
  net::Clock::time_point store_retry_{};  // after a store error, no store work before this
  net::Clock::time_point last_stats_{};
  std::uint64_t malformed_ = 0;           // feed messages that are not one well-formed CommittedBatch
  std::uint64_t refused_ = 0;             // feed events the store does not hold (FeedVerifier)
  std::uint64_t store_errors_ = 0;
  bool store_failing_ = false;             // since the last store error, the store answered nothing
  std::uint64_t store_answers_ = 0;        // store_.answers() at the last store error
  struct FeedCheckStats {
    std::uint64_t count = 0;  // FeedVerifier::verify() calls since the last stats line
    net::Clock::duration total{}, max{};
  };
  FeedCheckStats feed_checks_;
  LogThrottle malformed_log_{std::chrono::seconds(1)};
  LogThrottle refused_log_{std::chrono::seconds(1)};
  notify::ServiceNotify notify_;  // used by run()'s thread
  // Counts the PUB socket's connections for probe_.subscribers (a ZeroMQ socket monitor).
  zmq::socket_t pub_monitor_;
  int subscribers_ = 0;
  void read_pub_monitor();
};

}  // namespace even::dispatcher
