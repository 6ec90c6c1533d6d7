#include "even/common/service_notify.h"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdlib>

namespace even::notify {

namespace {

bool notify_socket_set() {
  const char* s = std::getenv("NOTIFY_SOCKET");
  return s && *s;
}

// A STATUS= value is one line.
std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

}  // namespace

ServiceNotifier::ServiceNotifier(bool one_service) : enabled_(notify_socket_set()), one_service_(one_service) {
  std::uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID (if set) names this process.
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0) watchdog_ = std::chrono::microseconds(usec);
}

int ServiceNotifier::join(std::string name, std::shared_ptr<std::atomic<std::int64_t>> last_loop) {
  std::lock_guard lock(mu_);
  const int id = next_id_++;
  parts_[id].name = std::move(name);
  parts_[id].last_loop = std::move(last_loop);
  return id;
}

std::vector<PartHealth> ServiceNotifier::health() const {
  static constexpr const char* kStates[] = {"starting", "ready", "standby", "not ready"};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  std::lock_guard lock(mu_);
  std::vector<PartHealth> out;
  for (const auto& [_, p] : parts_) {
    PartHealth h;
    h.name = p.name;
    h.state = kStates[static_cast<int>(p.state)];
    h.status = p.status;
    h.ready = p.state == State::ready;
    const auto last = p.last_loop ? p.last_loop->load(std::memory_order_relaxed) : now;
    h.since_loop_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::duration(std::max<std::int64_t>(0, now - last)))
            .count();
    out.push_back(std::move(h));
  }
  return out;
}

void ServiceNotifier::leave(int id) {
  std::lock_guard lock(mu_);
  if (parts_.erase(id) == 0 || !enabled_) return;
  // The others may have been waiting for this one only.
  std::string msg;
  if (!ready_sent_ && !stopping_sent_ && !parts_.empty() && all_ready()) {
    msg = "READY=1\n";
    ready_sent_ = true;
  }
  if (!parts_.empty() && !stopping_sent_) {
    if (auto s = joined_status(); s != last_status_) {
      msg += "STATUS=" + s;
      last_status_ = s;
    }
  }
  if (!msg.empty()) send(msg);
}

void ServiceNotifier::ready(int id, std::string_view status, State state) {
  std::lock_guard lock(mu_);
  auto it = parts_.find(id);
  if (it == parts_.end()) return;
  it->second.ready = true;
  it->second.state = state;
  it->second.status = one_line(status);
  if (!enabled_) return;
  std::string msg;
  if (!ready_sent_ && !stopping_sent_ && all_ready()) {
    msg = "READY=1\n";
    ready_sent_ = true;
  }
  if (auto s = joined_status(); s != last_status_ && !stopping_sent_) {
    msg += "STATUS=" + s;
    last_status_ = s;
  }
  if (!msg.empty()) send(msg);
}

void ServiceNotifier::status(int id, std::string_view text, std::optional<State> state) {
  std::lock_guard lock(mu_);
  auto it = parts_.find(id);
  if (it == parts_.end()) return;
  if (state) it->second.state = *state;
  it->second.status = one_line(text);
  if (!enabled_ || stopping_sent_) return;
  if (auto s = joined_status(); s != last_status_) {
    send("STATUS=" + s);
    last_status_ = s;
  }
}

void ServiceNotifier::ping(int id) {
  if (!enabled_) return;
  std::lock_guard lock(mu_);
  auto it = parts_.find(id);
  if (it == parts_.end()) return;
  it->second.pinged = true;
  for (const auto& [_, p] : parts_)
    if (!p.pinged) return;  // a loop that has not gone round since the last ping holds it back
  for (auto& [_, p] : parts_) p.pinged = false;
  send("WATCHDOG=1");
}

void ServiceNotifier::stopping() {
  if (!enabled_) return;
  std::lock_guard lock(mu_);
  if (stopping_sent_) return;
  stopping_sent_ = true;
  last_status_ = "stopping";
  send("STOPPING=1\nSTATUS=stopping");
}

std::string ServiceNotifier::joined_status() const {
  if (parts_.size() == 1) return parts_.begin()->second.status;
  std::string out;
  for (const auto& [_, p] : parts_) {
    if (!out.empty()) out += " | ";
    out += p.name + ": " + (p.status.empty() ? "starting" : p.status);
  }
  return out;
}

bool ServiceNotifier::all_ready() const {
  for (const auto& [_, p] : parts_)
    if (!p.ready) return false;
  return true;
}

void ServiceNotifier::send(const std::string& message) {
  // Errors (no manager listening any more, a full socket buffer) change nothing for the service.
  (void)sd_notify(0, message.c_str());
}

// --- ServiceNotify -----------------------------------------------------------------------------

ServiceNotify::ServiceNotify(std::shared_ptr<ServiceNotifier> notifier, std::string name)
    : notifier_(notifier ? notifier : std::make_shared<ServiceNotifier>()),
      last_loop_(std::make_shared<std::atomic<std::int64_t>>(
          std::chrono::steady_clock::now().time_since_epoch().count())),
      speaks_for_process_(!notifier || notifier->one_service_) {
  id_ = notifier_->join(std::move(name), last_loop_);
  if (notifier_->watchdog_timeout().count() > 0) {
    ping_every_ = std::chrono::duration_cast<std::chrono::steady_clock::duration>(notifier_->watchdog_timeout()) / 4;
    next_ping_ = std::chrono::steady_clock::now();
  }
}

ServiceNotify::~ServiceNotify() {
  if (id_ >= 0) notifier_->leave(id_);
}

void ServiceNotify::ready(std::string_view status) {
  if (id_ >= 0) notifier_->ready(id_, status, ServiceNotifier::State::ready);
}

void ServiceNotify::standby(std::string_view status) {
  if (id_ >= 0) notifier_->ready(id_, status, ServiceNotifier::State::standby);
}

void ServiceNotify::not_ready(std::string_view status) {
  if (id_ >= 0) notifier_->status(id_, status, ServiceNotifier::State::not_ready);
}

void ServiceNotify::status(std::string_view text) {
  if (id_ >= 0) notifier_->status(id_, text);
}

void ServiceNotify::stopping() {
  if (speaks_for_process_) notifier_->stopping();
  if (id_ >= 0) notifier_->leave(id_);
  id_ = -1;
}

bool ServiceNotify::watchdog_due() const {
  return ping_every_.count() > 0 && id_ >= 0 && std::chrono::steady_clock::now() >= next_ping_;
}

void ServiceNotify::ping() {
  looped();
  if (id_ < 0) return;
  if (ping_every_.count() > 0) next_ping_ = std::chrono::steady_clock::now() + ping_every_;
  notifier_->ping(id_);
}

std::chrono::milliseconds ServiceNotify::max_wait() const {
  if (ping_every_.count() <= 0) return std::chrono::milliseconds::max();
  return std::max(std::chrono::milliseconds(1), std::chrono::duration_cast<std::chrono::milliseconds>(ping_every_));
}

}  // namespace even::notify
