#include "even/common/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace even::metrics {

namespace {

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

// The label set with one more label appended (a histogram's le), rendered.
std::string with_label(const std::string& rendered, std::string_view name, std::string_view value) {
  std::string extra = std::string(name) + "=\"" + escape_label_value(value) + "\"";
  if (rendered.empty()) return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    return buf;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back exactly
  return std::string(buf, r.ptr);
}

std::string format_labels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (!valid_label_name(labels[i].first))
      throw std::invalid_argument("metrics: invalid label name '" + labels[i].first + "'");
    if (labels[i].first == "le") throw std::invalid_argument("metrics: label name 'le' is the histograms'");
    if (i) out += ",";
    out += labels[i].first + "=\"" + escape_label_value(labels[i].second) + "\"";
  }
  return out + "}";
}

// --- Histogram ------------------------------------------------------------------------------

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end())
    throw std::invalid_argument("metrics: histogram bounds must be strictly ascending");
  if (!bounds_.empty() && std::isinf(bounds_.back()) && bounds_.back() > 0) bounds_.pop_back();  // implied
  counts_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::observe(double v) noexcept {
  // Buckets are few (tens): a linear scan beats a binary search's branches at this size.
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::bucket_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  if (start <= 0 || factor <= 1 || count < 1) throw std::invalid_argument("metrics: bad exponential buckets");
  std::vector<double> out;
  double b = start;
  for (int i = 0; i < count; ++i, b *= factor) out.push_back(b);
  return out;
}

std::vector<double> duration_buckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

// --- Registry -------------------------------------------------------------------------------

Registry::Family& Registry::family(std::string_view name, Type type, std::string_view help,
                                   const std::vector<double>& bounds) {
  if (!valid_metric_name(name)) throw std::invalid_argument("metrics: invalid metric name '" + std::string(name) + "'");
  auto it = families_.find(name);
  if (it == families_.end()) {
    Family f{type, std::string(help), bounds, {}, {}, {}};
    return families_.emplace(std::string(name), std::move(f)).first->second;
  }
  Family& f = it->second;
  if (f.type != type || f.help != help || f.bounds != bounds)
    throw std::invalid_argument("metrics: '" + std::string(name) +
                                "' registered again with another type, help text or buckets");
  return f;
}

Counter& Registry::counter(std::string_view name, std::string_view help, Labels labels) {
  std::lock_guard lock(mu_);
  auto key = format_labels(labels);
  auto& f = family(name, Type::counter, help, {});
  auto& slot = f.counters[key];
  if (!slot) slot = &counter_store_.emplace_back();
  return *slot;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, Labels labels) {
  std::lock_guard lock(mu_);
  auto key = format_labels(labels);
  auto& f = family(name, Type::gauge, help, {});
  auto& slot = f.gauges[key];
  if (!slot) slot = &gauge_store_.emplace_back();
  return *slot;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, std::vector<double> upper_bounds,
                               Labels labels) {
  std::lock_guard lock(mu_);
  auto key = format_labels(labels);
  Histogram probe(upper_bounds);  // checks and normalises the bounds (+Inf dropped)
  auto& f = family(name, Type::histogram, help, probe.upper_bounds());
  auto& slot = f.histograms[key];
  if (!slot) slot = &histogram_store_.emplace_back(std::move(upper_bounds));
  return *slot;
}

void Registry::on_collect(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(fn));
}

std::string Registry::render() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
  }
  for (auto& c : collectors) c();  // outside the lock: they set gauges of this registry
  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(4096);
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + escape_help(f.help) + "\n";
    switch (f.type) {
      case Type::counter:
        out += "# TYPE " + name + " counter\n";
        for (const auto& [labels, c] : f.counters) out += name + labels + " " + std::to_string(c->value()) + "\n";
        break;
      case Type::gauge:
        out += "# TYPE " + name + " gauge\n";
        for (const auto& [labels, g] : f.gauges) out += name + labels + " " + format_value(g->value()) + "\n";
        break;
      case Type::histogram: {
        out += "# TYPE " + name + " histogram\n";
        for (const auto& [labels, h] : f.histograms) {
          const auto counts = h->bucket_counts();
          std::uint64_t cumulative = 0;
          for (std::size_t i = 0; i < counts.size(); ++i) {
            cumulative += counts[i];
            const std::string le = i < f.bounds.size() ? format_value(f.bounds[i]) : "+Inf";
            out += name + "_bucket" + with_label(labels, "le", le) + " " + std::to_string(cumulative) + "\n";
          }
          out += name + "_sum" + labels + " " + format_value(h->sum()) + "\n";
          out += name + "_count" + labels + " " + std::to_string(cumulative) + "\n";
        }
        break;
      }
    }
  }
  return out;
}

// --- process metrics ------------------------------------------------------------------------

#ifndef EVEN_VERSION
#define EVEN_VERSION "unknown"
#endif
#ifndef EVEN_GIT_HASH
#define EVEN_GIT_HASH "unknown"
#endif

std::string_view build_version() { return EVEN_VERSION; }
std::string_view build_git_hash() { return EVEN_GIT_HASH; }

namespace {

double resident_bytes() {
  long pages_total = 0, pages_resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  const int n = std::fscanf(f, "%ld %ld", &pages_total, &pages_resident);
  std::fclose(f);
  return n == 2 ? double(pages_resident) * double(sysconf(_SC_PAGESIZE)) : 0;
}

double open_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return 0;
  int n = 0;
  while (auto* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the directory's own descriptor
}

}  // namespace

void add_process_metrics(Registry& r) {
  r.gauge("even_build_info", "Even's version and git hash (value 1)",
          {{"version", std::string(build_version())}, {"git_hash", std::string(build_git_hash())}})
      .set(1);
  const auto started_steady = std::chrono::steady_clock::now();
  const double started_unix =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  r.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds")
      .set(std::floor(started_unix));
  auto& uptime = r.gauge("even_uptime_seconds", "Seconds since the process started");
  auto& rss = r.gauge("process_resident_memory_bytes", "Resident memory size in bytes");
  auto& fds = r.gauge("process_open_fds", "Number of open file descriptors");
  r.on_collect([&uptime, &rss, &fds, started_steady] {
    uptime.set(std::chrono::duration<double>(std::chrono::steady_clock::now() - started_steady).count());
    rss.set(resident_bytes());
    fds.set(open_fds());
  });
}

}  // namespace even::metrics

namespace even::metrics {

std::string Sample::label(std::string_view label_name) const {
  for (const auto& [k, v] : labels)
    if (k == label_name) return v;
  return "";
}

std::vector<Sample> parse_text(std::string_view text) {
  std::vector<Sample> out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.empty() || line[0] == '#') continue;
    auto bad = [&](const char* why) {
      return std::invalid_argument("metrics text line " + std::to_string(line_no) + ": " + why + ": " +
                                   std::string(line.substr(0, 200)));
    };
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = std::string(line.substr(0, i));
    if (!valid_metric_name(s.name)) throw bad("bad metric name");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const auto eq = line.find('=', i);
        if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') throw bad("bad label");
        std::string key(line.substr(i, eq - i));
        std::string value;
        std::size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        if (j >= line.size()) throw bad("unterminated label value");
        s.labels.emplace_back(std::move(key), std::move(value));
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) throw bad("unterminated labels");
      ++i;
    }
    while (i < line.size() && line[i] == ' ') ++i;
    auto value = line.substr(i, line.find(' ', i) == std::string_view::npos ? std::string_view::npos
                                                                           : line.find(' ', i) - i);
    if (value == "+Inf") s.value = HUGE_VAL;
    else if (value == "-Inf") s.value = -HUGE_VAL;
    else if (value == "NaN") s.value = std::nan("");
    else {
      std::string v(value);
      char* end = nullptr;
      s.value = std::strtod(v.c_str(), &end);
      if (v.empty() || *end) throw bad("bad value");
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace even::metrics
