// ProjectionRunner: runs one Projection over a CatchUpSubscription and commits its read model
// and checkpoint together, batch by batch, in its query database.
//
// Start-up: takes the projection's lock (GET_LOCK on the query database, so two projectors never
// run the same projection at once: the second one waits as a standby), reads the checkpoint and
// rebuilds when the projection is new, its definition hash changed, a reset did not finish, or a
// rebuild was requested (`evenctl projection rebuild`, RunnerOptions::rebuild_at_start). Then it
// subscribes from position + 1. The subscription's thread pushes events into a bounded queue; the
// runner's thread takes everything queued (up to max_batch_events) as one batch: handle() each,
// flush(), then the checkpoint UPDATE and COMMIT, in one round trip when the statements were
// queued with QueryTx::add(). While catching up the queue is full, so batches are full; live,
// a batch is whatever arrived during the previous commit.
//
// Failures: a lost query-database connection (or a deadlock) restarts from the checkpoint, after
// retry_after. Anything else a batch throws is retried event by event, to commit the events before
// the bad one and name it; the projection then stops with state "failed" and the error in its
// checkpoint row and the log. Other runners are not affected.
//
// Owns one thread, the query-database connection it alone uses, and the subscription (one more
// thread). The Client and the Projection must outlive the runner.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <spdlog/logger.h>

#include "even/client/client.h"
#include "even/common/config.h"
#include "even/projector/checkpoint.h"
#include "even/projector/projection.h"

namespace even::projector {

struct RunnerOptions {
  std::size_t max_batch_events = 1000;           // events per transaction, at most
  std::size_t queue_events = 20000;              // buffered between the subscription and the runner
  std::chrono::milliseconds progress_interval{2000};  // progress log, head refresh, rebuild-request check
  std::chrono::milliseconds retry_after{1000};   // after a lost connection
  bool rebuild_at_start = false;                 // rebuild once when starting (even-projector --rebuild)
  std::string checkpoint_table = kQueryCheckpointTable;
  client::SubscriptionOptions subscription;
  // Called on the runner's thread after each committed batch with how long its transaction took
  // (handle() of each event, flush(), the checkpoint and COMMIT); empty: not measured.
  // ProjectorService feeds even_projector_batch_duration_seconds with it. Must not block.
  std::function<void(std::chrono::duration<double>)> on_batch;
};

// What a runner is doing, for status displays and tests.
struct RunnerStatus {
  std::string state = "starting";  // starting, standby, resetting, rebuilding, running, failed, stopped
  GlobalSeq position;              // of the last commit
  GlobalSeq head;                  // the store's head as last seen
  std::uint64_t events_applied = 0;  // by this runner since it started
  std::uint64_t batches = 0;
  std::uint64_t rebuilds = 0;
  std::string error;
};

class ProjectionRunner {
 public:
  ProjectionRunner(client::Client& client, std::shared_ptr<Projection> projection, config::DbOptions query_db,
                   RunnerOptions options, std::shared_ptr<spdlog::logger> log);
  ~ProjectionRunner();  // stop()
  ProjectionRunner(const ProjectionRunner&) = delete;
  ProjectionRunner& operator=(const ProjectionRunner&) = delete;

  void start();
  // Stops after the batch in progress (its commit completes or is rolled back). Thread-safe.
  void stop();
  // True once the runner's thread ended (stopped or failed).
  bool finished() const { return finished_.load(); }
  bool failed() const;
  RunnerStatus status() const;
  const std::string& name() const { return name_; }
  // When the runner's thread last went round one of its loops (batches, standby, retries): a
  // runner whose time stands still is stuck, e.g. in a statement that waits on a lock. The
  // projector's watchdog looks at it. Thread-safe.
  std::chrono::steady_clock::time_point last_alive() const {
    return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(alive_.load()));
  }

 private:
  class Session;  // one connection + lock + subscription, from checkpoint to stop / restart
  void run();
  void fail(const std::string& message);
  void set_state(const std::string& state);
  bool wait_or_stop(std::chrono::milliseconds d);  // false when stopped
  void beat() { alive_ = std::chrono::steady_clock::now().time_since_epoch().count(); }

  client::Client& client_;
  std::shared_ptr<Projection> projection_;
  const std::string name_;
  config::DbOptions query_db_;
  RunnerOptions options_;
  std::shared_ptr<spdlog::logger> log_;

  bool rebuilt_at_start_ = false;  // runner thread only
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::atomic<std::chrono::steady_clock::rep> alive_{std::chrono::steady_clock::now().time_since_epoch().count()};
  mutable std::mutex mu_;
  std::condition_variable cv_;   // wakes wait_or_stop
  RunnerStatus status_;          // guarded by mu_
  std::thread thread_;
};

}  // namespace even::projector
