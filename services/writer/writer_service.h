// WriterService: the even-writer process's main loop. Receives append requests on a ROUTER
// socket, validates them, groups them into batches for the GroupCommitter (run on a CommitThread,
// so that the next batch is collected while one commits), replies after COMMIT, and pushes
// committed events to the dispatcher (best effort, never blocking).
//
// Owns its thread's sockets (ROUTER, optional PUSH) and the GroupCommitter; run() is called on
// one thread and returns after shutdown (SIGTERM, or request_stop()).
//
// Roles: a standby holds no ROUTER; a master binds it once it holds the master lock (retrying,
// lock kept, while the endpoint is still held by a previous master on the same host) and closes
// it when it loses the lock, answering what it had accepted with `unavailable` (clients resend
// to whichever writer serves the endpoint next). With standby allowed, a master that lost the
// lock becomes a standby again; with --writer.no-standby it exits with code 3.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>
#include <zmq.hpp>

#include "even/common/config.h"
#include "even/common/metrics.h"
#include "even/common/net.h"
#include "even/common/service_notify.h"
#include "even/common/wire.h"
#include "even/common/zap.h"
#include "writer/commit_thread.h"
#include "writer/group_committer.h"
#include "writer/probe.h"

namespace even::writer {

struct WriterOptions {
  std::string endpoint = "tcp://127.0.0.1:5550";  // ROUTER bind address
  std::string dispatcher_endpoint;                // PUSH connect address; empty: no live feed
  std::size_t max_batch_requests = 1000;
  std::size_t max_batch_events = 5000;
  int batch_window_us = 0;        // after the socket drains, wait this long for more requests
  std::size_t max_events_per_append = 10000;
  std::size_t max_metadata_bytes = 64u << 10;
  wire::Limits limits;            // max message size etc.
  int recv_hwm = 10000;           // requests queued in the socket before clients feel pushback
  int push_hwm = 100000;          // committed events queued for the dispatcher before dropping
  // A master with nothing to commit checks its store connection (and so the lock) this often, so
  // that it notices a store restart, or another writer having taken the lock, without waiting for
  // an append. 0: never.
  int idle_probe_ms = 250;
  // A master that cannot bind its endpoint (address in use) retries this often, keeping the lock.
  int bind_retry_ms = 50;
  CommitterOptions committer;
  // CURVE: `auth` makes the ROUTER a CURVE server checked under the role append (null: plain);
  // `feed_curve` are the PUSH's client keys for the dispatcher's PULL (empty: plain).
  std::shared_ptr<zap::Authenticator> auth;
  net::CurveClient feed_curve;
  // Where READY/STATUS/WATCHDOG go (systemd); null: this service is the process (one from the
  // environment, a no-op without NOTIFY_SOCKET). even-server shares one between its services.
  std::shared_ptr<notify::ServiceNotifier> notifier;
  // Where the writer's metrics go (writer/probe.h); null: a registry of its own that nobody
  // serves. The process's MetricsServer serves a shared one.
  std::shared_ptr<metrics::Registry> metrics;
};

struct WriterStats {
  std::uint64_t batches = 0;
  std::uint64_t appends = 0;
  std::uint64_t events = 0;
  std::uint64_t rejected = 0;
  std::uint64_t feed_dropped = 0;
  double commit_seconds = 0;  // time spent inside GroupCommitter::commit
  std::vector<double> recent_commit_ms;  // the commits since the last stats line (for its percentiles)
};

class WriterService {
 public:
  WriterService(zmq::context_t& ctx, config::DbOptions db, WriterOptions options, std::shared_ptr<spdlog::logger> log);

  // Takes the master lock (standby waits), binds, serves until stopped; after losing the lock,
  // waits as a standby again (or, without standby, stops). Returns the exit code: 0 after a clean
  // stop, 3 when mastership was lost and standby is off. Every reason to return is logged.
  // Throws on broken infrastructure (e.g. an endpoint that cannot be bound for another reason
  // than being in use).
  int run();
  // Thread-safe; run() returns soon after.
  void request_stop();

 private:
  struct Pending {
    std::vector<zmq::message_t> envelope;  // routing frames to send the reply back
    std::uint64_t request_id;
    AppendPath path = AppendPath::unknown;  // for the metrics
    std::uint32_t events = 0;
    bool lifecycle = false;  // answered with a LifecycleResult
    std::string stream;      // lifecycle: its stream (for the log)
  };

  enum class TermEnd { stopped, lost_master_lock };
  // Binds a fresh ROUTER to the endpoint, retrying while it is in use; false when stopped first.
  bool bind_router();
  // Serves appends while master: the main loop of one term.
  TermEnd serve();
  // Answers what is queued on the ROUTER with `unavailable`, then closes it (freeing the endpoint).
  void close_router();
  void handle_message(std::vector<zmq::message_t>& frames);
  // Hands the batch being collected to the commit thread (after finishing the one it works on).
  void submit_batch();
  // Hands an empty batch to the idle commit thread: it checks the connection and the lock.
  void submit_probe();
  // Answers and publishes the batch the commit thread finished; rethrows NotMaster.
  void finish_batch(CommitThread::Result result);
  void reply_error(const std::vector<zmq::message_t>& envelope, std::uint64_t request_id, schema::ErrorCode code,
                   const std::string& message, std::int64_t current_version = -1);
  void send_reply(const std::vector<zmq::message_t>& envelope, capnp::MallocMessageBuilder& msg);
  void publish(std::vector<RecordedEvent>& committed);
  bool stopping() const;
  void log_stats(std::chrono::steady_clock::time_point now);  // and starts a new period
  // Tells systemd what the writer does (standby, store unreachable, master and its rate); called
  // from the loop of every phase, so it also pings the watchdog.
  void report(std::chrono::steady_clock::time_point now);

  zmq::context_t& ctx_;
  WriterOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<metrics::Registry> registry_;
  WriterProbe probe_;
  GroupCommitter committer_;
  zmq::socket_t router_;
  zmq::socket_t push_;
  net::Wakeup stop_wakeup_;
  std::atomic<bool> stop_{false};
  bool master_ = false;          // serving a term: requests are decided, not answered `unavailable`
  bool push_connected_ = false;  // the PUSH socket stays connected across terms

  std::unique_ptr<CommitThread> commit_thread_;  // exists while run() serves

  // The batch being collected (requests decoded while the previous one commits).
  std::vector<AppendCommand> batch_;
  std::vector<Pending> batch_pending_;
  // The requests of the batch the commit thread works on, answered when it is done.
  std::vector<Pending> in_flight_pending_;
  std::size_t batch_events_ = 0;
  std::size_t batch_bytes_ = 0;
  WriterStats stats_;
  std::chrono::steady_clock::time_point last_stats_log_;
  std::chrono::steady_clock::time_point last_commit_done_;  // for the idle probe
  notify::ServiceNotify notify_;
  std::chrono::steady_clock::time_point last_report_{};
  std::uint64_t report_appends_ = 0, report_events_ = 0;  // stats_ at last_report_
};

}  // namespace even::writer
