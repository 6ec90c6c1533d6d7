// ReaderService: the even-reader process's front end. A load-balancing broker (zguide ch. 3):
// clients' requests arrive on a ROUTER, and each goes to the next idle ReadWorker over an inproc
// ROUTER; the worker's reply goes back the same way. The broker takes every request off the
// frontend at once and keeps, per client connection, at most max_in_flight_per_client of them
// (waiting for a worker or at one); one more is refused `busy` without a read. Workers take the
// waiting requests client by client, in turn. So a client that floods requests and leaves costs at
// most that many reads, and its connection is freed as soon as its requests are read off it.
//
// Owns the frontend and backend sockets (used only by the thread that calls run()) and the
// workers (each owns its thread, socket and store connection). The reader only reads, so it can
// point at a MySQL replica.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>
#include <zmq.hpp>

#include "even/common/config.h"
#include "even/common/net.h"
#include "even/common/service_notify.h"
#include "even/common/metrics.h"
#include "even/common/zap.h"
#include "reader/probe.h"
#include "reader/read_worker.h"

namespace even::reader {

struct ReaderOptions {
  std::string endpoint = "tcp://127.0.0.1:5553";  // ROUTER bind address
  int workers = 4;
  WorkerOptions worker;
  int recv_hwm = 1000;  // requests queued in ZeroMQ per client connection until the broker takes them
  int send_hwm = 32;    // replies (pages) queued per client connection; beyond it they are dropped
  // Requests one client connection (ROUTER routing id) may have in the reader at once: waiting for
  // a worker or being read. One more is refused `busy` at once, without a read.
  int max_in_flight_per_client = 32;
  // Where READY/STATUS/WATCHDOG go (systemd); null: this service is the process (one from the
  // environment, a no-op without NOTIFY_SOCKET). even-server shares one between its services.
  std::shared_ptr<notify::ServiceNotifier> notifier;
  // Where the reader's metrics go (reader/probe.h); null: a registry of its own that nobody serves.
  std::shared_ptr<metrics::Registry> metrics;
  // CURVE: makes the ROUTER a CURVE server checked under the role read; null: plain.
  std::shared_ptr<zap::Authenticator> auth;
};

struct ReaderStats {
  std::uint64_t requests = 0;
  std::uint64_t replies = 0;
  std::uint64_t dropped = 0;  // replies to clients that were gone or not reading
  std::uint64_t refused = 0;  // requests refused busy: their client had too many in flight
};

class ReaderService {
 public:
  ReaderService(zmq::context_t& ctx, config::DbOptions db, ReaderOptions options, std::shared_ptr<spdlog::logger> log);
  ~ReaderService();

  // Binds, starts the workers, serves until stopped (SIGTERM or request_stop()). Returns 0.
  int run();
  // Thread-safe; run() returns soon after.
  void request_stop();

 private:
  zmq::context_t& ctx_;
  config::DbOptions db_;
  ReaderOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  net::Wakeup stop_wakeup_;
  std::atomic<bool> stop_{false};
  ReaderStats stats_;
  std::shared_ptr<metrics::Registry> registry_;
  ReaderProbe probe_;
  notify::ServiceNotify notify_;
};

}  // namespace even::reader
