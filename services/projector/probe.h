// ProjectorProbe: the projector's metrics (Prometheus, common/include/even/common/metrics.h), one
// series per projection, refreshed from the runners' status by ProjectorService's loop (every
// report, about twice a second; nothing is counted per event):
//
//   even_projector_position{projection}                 global sequence of its last commit
//   even_projector_head_position                        the store's head (asked of the reader)
//   even_projector_lag_events{projection}               head - position
//   even_projector_lag_seconds{projection}              how long it has been behind the head
//                                                       (0 when caught up)
//   even_projector_state{projection,state}              1 for its state (starting, standby,
//                                                       resetting, rebuilding, running, failed,
//                                                       stopped), 0 for the others
//   even_projector_events_applied_total{projection}     events applied
//   even_projector_batches_total{projection}            transactions committed
//   even_projector_failures_total{projection}           times it failed
//   even_projector_rebuilds_total{projection}           rebuilds
//   even_projector_batch_duration_seconds{projection}   histogram: each committed batch's
//                                                       transaction (handle, flush, checkpoint,
//                                                       COMMIT), observed by the runner's thread
//                                                       (RunnerOptions::on_batch)
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "even/common/metrics.h"
#include "even/projector/projection_runner.h"

namespace even::projector {

class ProjectorProbe {
 public:
  explicit ProjectorProbe(metrics::Registry& registry) : registry_(registry) {}

  // One projection's status; `head` the store's head as last asked (0: unknown, the runner's own
  // is used). Called by one thread.
  void update(const std::string& projection, const RunnerStatus& status, GlobalSeq head,
              std::chrono::steady_clock::time_point now);
  // The batch duration histogram of `projection`, for its runner's RunnerOptions::on_batch
  // (any thread may observe it). Valid as long as the registry.
  metrics::Histogram& batch_duration(const std::string& projection);

 private:
  struct Series {
    metrics::Gauge* position;
    metrics::Gauge* lag_events;
    metrics::Gauge* lag_seconds;
    std::map<std::string, metrics::Gauge*> states;
    metrics::Counter* applied;
    metrics::Counter* batches;
    metrics::Counter* failures;
    metrics::Counter* rebuilds;
    RunnerStatus last;
    std::chrono::steady_clock::time_point caught_up_at;
  };
  Series& series(const std::string& projection, std::chrono::steady_clock::time_point now);

  metrics::Registry& registry_;
  std::map<std::string, Series> series_;
};

}  // namespace even::projector
