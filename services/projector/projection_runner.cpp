#include "even/projector/projection_runner.h"

#include <algorithm>
#include <deque>
#include <future>
#include <stdexcept>

#include "projector/checkpoints.h"

namespace even::projector {

namespace {

using Clock = std::chrono::steady_clock;

// The projection failed for good: stop it.
struct Failed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Try again from the checkpoint: a lost connection, a deadlock, a stopped subscription.
struct Transient : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A lost connection, a deadlock, a lock wait timeout, a server that cannot be reached: try again
// from the checkpoint. Whichever server the error comes from (a projection may also throw one of
// its own query-database errors).
bool is_transient(const std::exception& e) {
  switch (classify_query_error(e)) {
    case QueryErrorKind::lost:
    case QueryErrorKind::retry:
    case QueryErrorKind::unreachable:
      return true;
    default:
      return false;
  }
}

bool is_server_error(const std::exception& e) { return classify_query_error(e) != QueryErrorKind::foreign; }

// Bounded FIFO between the subscription's thread (push) and the runner's thread (pop_batch).
class EventQueue {
 public:
  explicit EventQueue(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

  // Blocks while full; false once closed.
  bool push(const client::RecordedEvent& e) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || q_.size() < capacity_; });
    if (closed_) return false;
    q_.push_back(e);
    not_empty_.notify_one();
    return true;
  }

  // Up to `max` events; waits up to `wait` for the first. Sets `drained` when the queue is empty
  // after the pop.
  std::vector<client::RecordedEvent> pop_batch(std::size_t max, std::chrono::milliseconds wait, bool& drained) {
    std::unique_lock lock(mu_);
    not_empty_.wait_for(lock, wait, [&] { return closed_ || !q_.empty(); });
    std::vector<client::RecordedEvent> out;
    const std::size_t n = std::min(max, q_.size());
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(std::move(q_.front()));
      q_.pop_front();
    }
    drained = q_.empty();
    not_full_.notify_all();
    return out;
  }

  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  const std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<client::RecordedEvent> q_;  // guarded by mu_
  bool closed_ = false;                  // guarded by mu_
};

std::string describe_event(const client::RecordedEvent& e) {
  return "event " + std::to_string(e.global_seq.value()) + " (" + e.type + " in " + e.stream + " at " +
         std::to_string(e.stream_seq.value()) + ")";
}

std::string eta_text(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "?";
  auto s = static_cast<long long>(seconds + 0.5);
  if (s < 120) return std::to_string(s) + "s";
  return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
}

// The lock name that keeps one runner per projection and database (<= 64 bytes; MySQL GET_LOCK,
// PostgreSQL an advisory lock on its hash).
std::string projection_lock_name(const config::DbOptions& db, const std::string& table, const std::string& projection) {
  std::string name = "even-projection:" + db.name + ":" + projection;
  if (table != kQueryCheckpointTable) name = "even-pstream:" + db.name + ":" + projection;
  if (name.size() <= 64) return name;
  return "even-projection:" + stable_hash(db.url + "/" + db.name + "/" + table + "/" + projection);
}

}  // namespace


// --- Session -------------------------------------------------------------------------------

// One run from the checkpoint: connection, lock, optional rebuild, subscription and batches.
// Ends by returning (stop, or a rebuild request: the runner starts a new session) or throwing.
class ProjectionRunner::Session {
 public:
  explicit Session(ProjectionRunner& r) : r_(r), cps_(conn(), r.options_.checkpoint_table) {}

  ~Session() {
    // The handler may be blocked in push(): close first, then stop the subscription's thread.
    queue_.close();
    sub_.reset();
  }

  void run() {
    if (!acquire_lock()) return;
    cps_.ensure();
    prepare();
    subscribe();
    loop();
    if (r_.stop_) {
      try {
        cps_.set_state(r_.name_, "stopped");
      } catch (const std::exception&) {
      }
    }
  }

 private:
  QueryConnection& conn() {
    if (!conn_) conn_ = query_dialect(r_.query_db_.url).open(r_.query_db_);
    return *conn_;
  }

  bool acquire_lock() {
    const std::string lock = projection_lock_name(r_.query_db_, r_.options_.checkpoint_table, r_.name_);
    bool logged = false;
    while (!r_.stop_) {
      r_.beat();
      if (conn().try_lock(lock)) {
        if (logged) r_.log_->info("projection {}: took over (lock '{}' free)", r_.name_, lock);
        return true;
      }
      if (!logged) {
        r_.log_->info("projection {}: another projector runs it (lock '{}'); standing by", r_.name_, lock);
        r_.set_state("standby");
        logged = true;
      }
      if (!r_.wait_or_stop(std::chrono::milliseconds(500))) break;
    }
    return false;
  }

  GlobalSeq read_head() {
    try {
      return r_.client_.head();
    } catch (const client::Error& e) {
      r_.log_->warn("projection {}: cannot read the store's head: {}", r_.name_, e.what());
      return GlobalSeq(0);
    }
  }

  // Rebuilds if needed, then setup(); leaves position_, target_ and state_ set.
  void prepare() {
    auto& p = *r_.projection_;
    const std::string hash = p.definition_hash();
    auto cp = cps_.load(r_.name_);
    std::string reason;
    if (!cp) reason = "new projection";
    else if (cp->definition_hash != hash) reason = "definition changed (hash " + cp->definition_hash + " -> " + hash + ")";
    else if (cp->state == "resetting") reason = "a reset did not finish";
    else if (cp->rebuild_requested) reason = "rebuild requested";
    else if (r_.options_.rebuild_at_start && !r_.rebuilt_at_start_) reason = "--rebuild";
    if (!reason.empty()) {
      r_.rebuilt_at_start_ = true;
      const GlobalSeq head = read_head();
      cps_.begin_reset(r_.name_, hash, head);
      r_.log_->info("projection {}: rebuilding ({}): reset, then replay up to head {}", r_.name_, reason, head.value());
      r_.set_state("resetting");
      try {
        QueryTx tx(conn());
        p.reset(tx);
        tx.commit({cps_.reset_done_sql(r_.name_)});
      } catch (const std::exception& e) {
        if (is_transient(e)) throw;
        throw Failed("reset failed: " + describe_query_error(e));
      }
      {
        std::lock_guard lock(r_.mu_);
        ++r_.status_.rebuilds;
      }
      cp = cps_.load(r_.name_);
      if (!cp) throw Transient("checkpoint row vanished during the reset");
      rebuild_started_ = Clock::now();
      rebuild_started_applied_ = applied_total();
    }
    setup();
    position_ = cp->position;
    target_ = cp->rebuild_from_head;
    state_ = position_ < target_ ? "rebuilding" : "running";
    if (cp->state != state_) cps_.set_state(r_.name_, state_);
    r_.set_state(state_);
    {
      std::lock_guard lock(r_.mu_);
      r_.status_.position = position_;
    }
    r_.log_->info("projection {}: {} from position {} (definition {})", r_.name_, state_, position_.value(), hash);
  }

  void setup() {
    try {
      QueryTx tx(conn());
      r_.projection_->setup(tx);
      tx.commit();
    } catch (const std::exception& e) {
      if (is_transient(e)) throw;
      throw Failed("setup failed: " + describe_query_error(e));
    }
  }

  void subscribe() {
    sub_ = r_.client_.subscribe(
        position_.next(), r_.projection_->filter(),
        [this](const client::RecordedEvent& e) {
          if (!queue_.push(e)) throw std::runtime_error("projection runner stopping");
        },
        r_.options_.subscription);
  }

  std::uint64_t applied_total() {
    std::lock_guard lock(r_.mu_);
    return r_.status_.events_applied;
  }

  void loop() {
    last_progress_ = Clock::now();
    progress_position_ = position_;
    progress_applied_ = applied_total();
    while (!r_.stop_) {
      r_.beat();
      // Every matching event <= seen was pushed before seen was read: if this pop drains the
      // queue, the checkpoint may move up to seen even past the batch's last event.
      const GlobalSeq seen = sub_->position();
      bool drained = false;
      auto batch = queue_.pop_batch(r_.options_.max_batch_events, std::chrono::milliseconds(100), drained);
      if (r_.stop_) break;
      if (!batch.empty()) {
        GlobalSeq pos = batch.back().global_seq;
        if (drained && seen > pos) pos = seen;
        apply(batch, pos, true);
      } else if (auto err = sub_->error()) {
        std::string why = "unknown error";
        try {
          std::rethrow_exception(err);
        } catch (const std::exception& e) {
          why = e.what();
        } catch (...) {
        }
        throw Transient("the subscription stopped: " + why);
      }
      if (Clock::now() - last_progress_ >= r_.options_.progress_interval) {
        if (!progress(drained ? seen : GlobalSeq(0))) return;  // a rebuild was requested
      }
    }
  }

  // Applies `batch` and moves the checkpoint to `pos`, in one transaction.
  void apply(const std::vector<client::RecordedEvent>& batch, GlobalSeq pos, bool may_isolate) {
    auto& p = *r_.projection_;
    const std::string state = pos < target_ ? "rebuilding" : "running";
    const auto started = Clock::now();
    try {
      QueryTx tx(conn());
      for (const auto& e : batch) p.handle(e, tx);
      p.flush(tx);
      tx.commit({cps_.update_sql(r_.name_, pos, batch.size(), head_, rate_, state)});
    } catch (const Transient&) {
      throw;
    } catch (const std::exception& e) {
      if (is_transient(e)) throw;
      isolate(batch, may_isolate, describe_query_error(e));
      return;
    }
    if (r_.options_.on_batch) r_.options_.on_batch(Clock::now() - started);
    committed(pos, batch.size(), state);
  }

  void isolate(const std::vector<client::RecordedEvent>& batch, bool may_isolate, const std::string& error) {
    if (batch.size() == 1 || !may_isolate) {
      throw Failed("failed at " + (batch.size() == 1 ? describe_event(batch.front()) : std::string("a batch")) + ": " +
                   error);
    }
    // Find the event: re-run the batch one event per transaction (setup() reloads the state the
    // rolled-back batch may have changed in memory).
    r_.log_->warn("projection {}: a batch of {} events failed ({}); applying them one by one", r_.name_, batch.size(),
                  error);
    setup();
    for (const auto& e : batch) apply({e}, e.global_seq, false);
    throw Failed("a batch failed (" + error + ") but each of its events applied alone");
  }

  void committed(GlobalSeq pos, std::size_t n, const std::string& state) {
    position_ = pos;
    {
      std::lock_guard lock(r_.mu_);
      r_.status_.position = pos;
      r_.status_.events_applied += n;
      ++r_.status_.batches;
      r_.status_.state = state;
    }
    if (state_ == "rebuilding" && state == "running") {
      const double secs = std::chrono::duration<double>(Clock::now() - rebuild_started_).count();
      const auto events = applied_total() - rebuild_started_applied_;
      r_.log_->info("projection {}: rebuild done at position {}: {} events in {:.1f} s ({:.0f} events/s)", r_.name_,
                    pos.value(), events, secs, secs > 0 ? static_cast<double>(events) / secs : 0.0);
    }
    state_ = state;
  }

  // Every progress_interval: head, rate, progress log, rebuild requests, idle checkpoint.
  // Returns false when a rebuild was requested.
  bool progress(GlobalSeq idle_position) {
    const auto now = Clock::now();
    const double secs = std::chrono::duration<double>(now - last_progress_).count();
    if (head_future_.valid() && head_future_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      try {
        head_ = std::max(head_, head_future_.get());
      } catch (const client::Error&) {
        // the reader is away; keep the last head
      }
    }
    if (!head_future_.valid()) head_future_ = r_.client_.head_async();
    if (position_ > head_) head_ = position_;
    {
      std::lock_guard lock(r_.mu_);
      r_.status_.head = head_;
    }
    const auto applied = applied_total();
    rate_ = secs > 0 ? static_cast<double>(applied - progress_applied_) / secs : 0;
    const double seq_rate = secs > 0 ? static_cast<double>(position_.value() - progress_position_.value()) / secs : 0;
    if (state_ == "rebuilding") {
      const double total = static_cast<double>(std::max(head_, target_).value());
      const double done = static_cast<double>(position_.value());
      r_.log_->info("projection {}: rebuilding: position {} / head {} ({:.1f}%), {} events applied, {:.0f} events/s, "
                    "ETA {}",
                    r_.name_, position_.value(), std::max(head_, target_).value(), total > 0 ? 100.0 * done / total : 100.0,
                    applied - rebuild_started_applied_, rate_,
                    seq_rate > 0 ? eta_text((static_cast<double>(target_.value()) - done) / seq_rate) : std::string("?"));
    }
    last_progress_ = now;
    progress_position_ = position_;
    progress_applied_ = applied;
    // Idle: nothing matched lately, but the subscription saw later events; record that.
    if (idle_position > position_) apply({}, idle_position, false);
    if (cps_.rebuild_requested(r_.name_)) {
      r_.log_->info("projection {}: rebuild requested", r_.name_);
      return false;
    }
    return true;
  }

  ProjectionRunner& r_;
  std::unique_ptr<QueryConnection> conn_;
  CheckpointTable cps_;
  EventQueue queue_{r_.options_.queue_events};
  std::unique_ptr<client::CatchUpSubscription> sub_;
  GlobalSeq position_, target_, head_;
  std::string state_;
  double rate_ = 0;
  Clock::time_point rebuild_started_ = Clock::now(), last_progress_;
  std::uint64_t rebuild_started_applied_ = 0, progress_applied_ = 0;
  GlobalSeq progress_position_;
  std::future<GlobalSeq> head_future_;
};

// --- ProjectionRunner ----------------------------------------------------------------------

ProjectionRunner::ProjectionRunner(client::Client& client, std::shared_ptr<Projection> projection,
                                   config::DbOptions query_db, RunnerOptions options,
                                   std::shared_ptr<spdlog::logger> log)
    : client_(client),
      projection_(std::move(projection)),
      name_(projection_->name()),
      query_db_(std::move(query_db)),
      options_(std::move(options)),
      log_(std::move(log)) {
  if (auto why = validate_projection_name(name_); !why.empty()) throw std::invalid_argument(why);
}

ProjectionRunner::~ProjectionRunner() { stop(); }

void ProjectionRunner::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread(&ProjectionRunner::run, this);
}

void ProjectionRunner::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ProjectionRunner::failed() const {
  std::lock_guard lock(mu_);
  return status_.state == "failed";
}

RunnerStatus ProjectionRunner::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

void ProjectionRunner::set_state(const std::string& state) {
  std::lock_guard lock(mu_);
  status_.state = state;
}

bool ProjectionRunner::wait_or_stop(std::chrono::milliseconds d) {
  // In slices, beating between them: waiting is not being stuck.
  const auto until = std::chrono::steady_clock::now() + d;
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (stop_ || now >= until) break;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(until - now, std::chrono::milliseconds(500)),
                   [&] { return stop_.load(); });
    }
    beat();
  }
  return !stop_;
}

void ProjectionRunner::run() {
  while (!stop_) {
    beat();
    try {
      Session session(*this);
      session.run();
    } catch (const Failed& e) {
      fail(e.what());
      break;
    } catch (const Transient& e) {
      log_->warn("projection {}: {}; restarting from the checkpoint in {} ms", name_, e.what(),
                 options_.retry_after.count());
      wait_or_stop(options_.retry_after);
    } catch (const std::exception& e) {
      if (!is_transient(e)) {
        fail(is_server_error(e) ? "query database error: " + describe_query_error(e) : std::string(e.what()));
        break;
      }
      log_->warn("projection {}: query database unavailable ({}); restarting from the checkpoint in {} ms", name_,
                 describe_query_error(e), options_.retry_after.count());
      wait_or_stop(options_.retry_after);
    }
  }
  if (!failed()) set_state("stopped");
  finished_ = true;
}

void ProjectionRunner::fail(const std::string& message) {
  log_->error("projection {} stopped: {}", name_, message);
  {
    std::lock_guard lock(mu_);
    status_.state = "failed";
    status_.error = message;
  }
  // Record it in the checkpoint row (a fresh connection: the old one may be what failed). The
  // lock was released with the old connection; a standby may take over and fail the same way.
  try {
    auto conn = query_dialect(query_db_.url).open(query_db_);
    CheckpointTable(*conn, options_.checkpoint_table).set_state(name_, "failed", message);
  } catch (const std::exception& e) {
    log_->warn("projection {}: cannot record the failure in its checkpoint row: {}", name_, describe_query_error(e));
  }
}

}  // namespace even::projector
