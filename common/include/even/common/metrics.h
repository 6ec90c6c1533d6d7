// Metrics in the Prometheus text exposition format (version 0.0.4): counters, gauges and
// histograms with fixed buckets, each with optional labels, collected in a Registry that renders
// them for GET /metrics (metrics_http.h serves it). There is no prometheus-cpp in Debian 12; this
// is the small part of it Even needs.
//
// The hot path is one relaxed atomic add (Counter::inc, Gauge::set) or a few (Histogram::observe):
// no lock, no allocation. Registration takes a lock and may allocate: do it once, when a service
// starts, and keep the returned reference.
//
//   metrics::Registry registry;
//   auto& committed = registry.counter("even_writer_events_committed_total", "Events committed",
//                                      {{"path", "buffered"}});
//   committed.inc(n);                                    // any thread
//   std::string text = registry.render();                // any thread (the HTTP server's)
//
// Names: [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (not starting with "__");
// anything else throws std::invalid_argument when registered, as does a name registered again with
// another type, help text or bucket list. The same name with the same labels returns the same
// metric, so a service that starts twice in one process counts on.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace even::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

// A count that only goes up (events, requests, errors). Thread-safe.
class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down (positions, queue depth, state). Thread-safe.
class Gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(double d) noexcept { value_.fetch_add(d, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, ascending, +Inf implied). Thread-safe;
// a scrape during observe() may see the sum one observation ahead of the buckets, never buckets
// that disagree with the count (the count is rendered as the sum of the buckets).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);

  void observe(double v) noexcept;

  const std::vector<double>& upper_bounds() const { return bounds_; }
  // Per bucket, not cumulative; the last one is +Inf.
  std::vector<std::uint64_t> bucket_counts() const;
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Bucket bounds: start, start*factor, ... (count of them).
std::vector<double> exponential_buckets(double start, double factor, int count);
// Seconds from 50 us to about 10 s: for commit, request and batch durations.
std::vector<double> duration_buckets();

// The metrics of one process (even-server's services share one). Thread-safe.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The metric `name` with `labels`: created on first use, the same object afterwards. The
  // reference stays valid as long as the registry.
  Counter& counter(std::string_view name, std::string_view help, Labels labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, Labels labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> upper_bounds,
                       Labels labels = {});

  // Runs `fn` at the start of every render(), on the rendering thread, e.g. to read the RSS into a
  // gauge. `fn` must be thread-safe with respect to whatever it reads.
  void on_collect(std::function<void()> fn);

  // Every metric in the text format 0.0.4: families sorted by name, each with HELP and TYPE.
  std::string render() const;

 private:
  enum class Type { counter, gauge, histogram };
  struct Family {
    Type type;
    std::string help;
    std::vector<double> bounds;  // histograms
    // Keyed by the rendered label set, e.g. {path="buffered",result="ok"}.
    std::map<std::string, Counter*> counters;
    std::map<std::string, Gauge*> gauges;
    std::map<std::string, Histogram*> histograms;
  };
  Family& family(std::string_view name, Type type, std::string_view help, const std::vector<double>& bounds);

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;  // guarded by mu_
  std::deque<Counter> counter_store_;                    // guarded by mu_ (addresses are stable)
  std::deque<Gauge> gauge_store_;                        // guarded by mu_
  std::deque<Histogram> histogram_store_;                // guarded by mu_
  std::vector<std::function<void()>> collectors_;        // guarded by mu_
};

// The text format's escaping: a label value escapes backslash, double quote and newline; a HELP
// text escapes backslash and newline.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);
// A sample value: integers without a fraction, +Inf, -Inf, NaN, else the shortest exact form.
std::string format_value(double v);
// {a="x",b="y"} (labels in the order given), or "" without labels. Checks the names.
std::string format_labels(const Labels& labels);

// One sample line of the text format, as read back by parse_text (evenctl stats, tests).
struct Sample {
  std::string name;  // with a histogram's _bucket/_sum/_count suffix
  Labels labels;
  double value = 0;
  // The value of label `name`, or "" without it.
  std::string label(std::string_view label_name) const;
};
// The samples of a text-format page (comments and blank lines skipped). Throws
// std::invalid_argument naming the line that does not parse. For pages of Even's own services:
// timestamps are ignored.
std::vector<Sample> parse_text(std::string_view text);

// What every Even process exports: even_build_info{version,git_hash} 1, even_uptime_seconds,
// process_start_time_seconds, process_resident_memory_bytes, process_open_fds (read at each
// scrape from /proc/self).
void add_process_metrics(Registry& registry);
// The version and git hash compiled in (git_hash is "unknown" outside a git checkout).
std::string_view build_version();
std::string_view build_git_hash();

}  // namespace even::metrics
