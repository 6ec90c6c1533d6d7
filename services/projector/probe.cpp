#include "projector/probe.h"

#include <algorithm>

namespace even::projector {

namespace {
const char* const kStates[] = {"starting", "standby", "resetting", "rebuilding", "running", "failed", "stopped"};
}

ProjectorProbe::Series& ProjectorProbe::series(const std::string& projection,
                                               std::chrono::steady_clock::time_point now) {
  auto it = series_.find(projection);
  if (it != series_.end()) return it->second;
  auto& r = registry_;
  const metrics::Labels l = {{"projection", projection}};
  Series s;
  s.position = &r.gauge("even_projector_position", "Global sequence of the projection's last commit", l);
  s.lag_events = &r.gauge("even_projector_lag_events", "Events between the store's head and the projection", l);
  s.lag_seconds =
      &r.gauge("even_projector_lag_seconds", "Seconds the projection has been behind the store's head (0: caught up)", l);
  for (const char* st : kStates)
    s.states[st] = &r.gauge("even_projector_state", "1 for the projection's state, 0 for the others",
                            {{"projection", projection}, {"state", st}});
  s.applied = &r.counter("even_projector_events_applied_total", "Events applied by the projection", l);
  s.batches = &r.counter("even_projector_batches_total", "Transactions the projection committed", l);
  s.failures = &r.counter("even_projector_failures_total", "Times the projection failed", l);
  s.rebuilds = &r.counter("even_projector_rebuilds_total", "Rebuilds of the projection", l);
  s.last.state = "";
  s.caught_up_at = now;
  return series_.emplace(projection, std::move(s)).first->second;
}

metrics::Histogram& ProjectorProbe::batch_duration(const std::string& projection) {
  return registry_.histogram("even_projector_batch_duration_seconds",
                             "Duration of the projection's batch transactions (handle, flush, checkpoint, COMMIT)",
                             metrics::duration_buckets(), {{"projection", projection}});
}

void ProjectorProbe::update(const std::string& projection, const RunnerStatus& st, GlobalSeq head,
                            std::chrono::steady_clock::time_point now) {
  auto& s = series(projection, now);
  auto& head_gauge = registry_.gauge("even_projector_head_position", "The store's head as the projector last saw it");
  const GlobalSeq h = std::max(head, st.head);
  head_gauge.set(std::max(head_gauge.value(), double(h.value())));
  s.position->set(double(st.position.value()));
  const double lag = h.value() > st.position.value() ? double(h.value() - st.position.value()) : 0.0;
  s.lag_events->set(lag);
  if (lag == 0) s.caught_up_at = now;
  s.lag_seconds->set(std::chrono::duration<double>(now - s.caught_up_at).count());
  for (auto& [name, g] : s.states) g->set(name == st.state ? 1 : 0);
  // The runner's counts start at 0 with the runner; the counters only add what is new.
  if (st.events_applied >= s.last.events_applied) s.applied->inc(st.events_applied - s.last.events_applied);
  if (st.batches >= s.last.batches) s.batches->inc(st.batches - s.last.batches);
  if (st.rebuilds >= s.last.rebuilds) s.rebuilds->inc(st.rebuilds - s.last.rebuilds);
  if (st.state == "failed" && s.last.state != "failed") s.failures->inc();
  s.last = st;
}

}  // namespace even::projector
