// What a service tells its service manager: systemd's notify protocol (Type=notify units,
// sd_notify(3) from libsystemd). READY=1 once the service can serve, STATUS= lines that say what it
// is doing, STOPPING=1 when it stops, and WATCHDOG=1 from its main loop while the unit has
// WatchdogSec= set.
//
// Without NOTIFY_SOCKET in the environment (started by hand, by supervisord, by ops/even, by a
// test) every call does nothing, and nothing is logged: a service behaves exactly as before.
//
//   notify::ServiceNotify notify(options.notifier, "reader");   // in the service
//   ... bind, connect ...
//   notify.ready("serving reads on tcp://...");                   // READY=1 + STATUS=
//   while (!stopping) { poll(...); notify.alive(); ... }          // WATCHDOG=1 when due
//   notify.stopping();                                            // STOPPING=1
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace even::notify {

// What a service says about itself, for GET /health/ready and /health/live (metrics_http.h).
struct PartHealth {
  std::string name;    // "writer", "reader", ...
  std::string state;   // "starting", "ready", "standby", "not ready"
  std::string status;  // the last STATUS= text of this service
  bool ready = false;  // it can serve (a standby writer cannot)
  // Seconds since its main loop last went round (ServiceNotify::alive/looped).
  double since_loop_seconds = 0;
};

// The process's channel to the service manager, shared by the services of one process
// (even-server runs several). It joins what they report, so that the process is seen as one:
// - READY=1 is sent once, when every service that joined has said ready (one that leaves first
//   no longer counts);
// - STATUS= is the text of the only service, or "name: text" of each joined by " | ";
// - WATCHDOG=1 is sent only when every service pinged since the last one, so a single stuck loop
//   stops the process's pings and the manager restarts the process.
// Thread-safe. A send is one datagram to $NOTIFY_SOCKET; a failed send is ignored (the manager
// may be gone, e.g. during shutdown).
class ServiceNotifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (libsystemd's sd_watchdog_enabled).
  // `one_service`: the process runs one service, whose ServiceNotify then speaks for the process
  // (sends STOPPING=1) as if it had made this notifier itself; a main that makes the notifier to
  // share it with its MetricsServer passes true.
  explicit ServiceNotifier(bool one_service = false);
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  // False without NOTIFY_SOCKET: then nothing is ever sent.
  bool enabled() const { return enabled_; }
  // WatchdogSec= of the unit (WATCHDOG_USEC); zero when the watchdog is off or not ours.
  std::chrono::microseconds watchdog_timeout() const { return watchdog_; }
  // STOPPING=1 and STATUS=stopping, once; afterwards READY=1 is never sent. Sent by whoever
  // speaks for the process (see ServiceNotify).
  void stopping();

  // Each joined service's state, in the order they joined. Recorded with or without
  // NOTIFY_SOCKET.
  std::vector<PartHealth> health() const;

 private:
  friend class ServiceNotify;
  enum class State { starting, ready, standby, not_ready };
  int join(std::string name, std::shared_ptr<std::atomic<std::int64_t>> last_loop);
  void leave(int id);
  void ready(int id, std::string_view status, State state);
  void status(int id, std::string_view text, std::optional<State> state = std::nullopt);
  void ping(int id);
  // The following need mu_ held.
  std::string joined_status() const;
  bool all_ready() const;
  void send(const std::string& message);

  const bool enabled_;
  const bool one_service_;
  std::chrono::microseconds watchdog_{0};
  struct Part {
    std::string name;
    std::string status;
    bool ready = false;   // READY=1 counts it (ready or standby)
    State state = State::starting;
    bool pinged = false;  // since the last WATCHDOG=1
    // steady_clock nanoseconds of the last turn of its loop; written by its loop without mu_.
    std::shared_ptr<std::atomic<std::int64_t>> last_loop;
  };
  mutable std::mutex mu_;
  std::map<int, Part> parts_;      // guarded by mu_
  int next_id_ = 0;                // guarded by mu_
  bool ready_sent_ = false;        // guarded by mu_
  bool stopping_sent_ = false;     // guarded by mu_
  std::string last_status_;        // guarded by mu_: what STATUS= said last
};

// One service's voice on a ServiceNotifier. Owned by the service; used by the thread that runs
// the service's main loop (construction and destruction may happen on another thread).
class ServiceNotify {
 public:
  // Joins `notifier` as `name`. With a null notifier (or one made with one_service) it makes its
  // own from the environment and speaks for the whole process: stopping() then sends STOPPING=1. A process that hosts several
  // services (even-server) passes them one shared notifier and sends STOPPING=1 itself.
  ServiceNotify(std::shared_ptr<ServiceNotifier> notifier, std::string name);
  ~ServiceNotify();  // leaves the notifier
  ServiceNotify(const ServiceNotify&) = delete;
  ServiceNotify& operator=(const ServiceNotify&) = delete;

  // The service can serve now: READY=1 (once every service of the process is ready) and
  // STATUS=status. Calling it again only updates the status.
  void ready(std::string_view status);
  // Healthy but not serving, e.g. a writer waiting for the master lock: READY=1 for the service
  // manager (nothing to restart), while /health/ready answers 503 saying "standby".
  void standby(std::string_view status);
  // Cannot serve now (store unreachable, reconnecting): /health/ready answers 503 with `status`;
  // for the service manager only STATUS= (READY=1, once sent, stays).
  void not_ready(std::string_view status);
  // STATUS=text, sent only when the process's status line changes.
  void status(std::string_view text);
  // The service stops: STOPPING=1 if this one speaks for the process; either way it leaves the
  // notifier (its watchdog and readiness no longer count). Idempotent.
  void stopping();

  // True when the watchdog is on and a ping is due: a quarter of WatchdogSec after the last one.
  // Cheap (one clock read): call it every turn of the main loop.
  bool watchdog_due() const;
  // This loop is alive: counts towards the next WATCHDOG=1.
  void ping();
  // ping() when due, and looped(). Call it from the loop that must not stall, never from a
  // helper thread.
  void alive() {
    looped();
    if (watchdog_due()) ping();
  }
  // The loop went round (for /health/live): one clock read and a relaxed store.
  void looped() {
    last_loop_->store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  }
  // The longest a loop should block between two alive() calls for the pings to be in time
  // (a quarter of WatchdogSec); std::chrono::milliseconds::max() without a watchdog.
  std::chrono::milliseconds max_wait() const;

 private:
  std::shared_ptr<ServiceNotifier> notifier_;
  std::shared_ptr<std::atomic<std::int64_t>> last_loop_;
  bool speaks_for_process_;
  int id_ = -1;  // -1 once left
  std::chrono::steady_clock::duration ping_every_{};
  std::chrono::steady_clock::time_point next_ping_{};
};

}  // namespace even::notify
