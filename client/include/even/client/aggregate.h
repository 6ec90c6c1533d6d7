// Aggregates and commands: the programming model on top of appends and reads.
//
// An aggregate is a type that names its state, its events, its commands, how an event changes
// the state and how a command is decided against the state:
//
//   struct Account {
//     static constexpr std::string_view kCategory = "account";  // streams "account-<id>"
//     using State = AccountState;          // default-constructible: the state before any event
//     using Event = std::variant<Opened, Deposited, Withdrawn>;   // see even/client/event_types.h
//     using Command = std::variant<Open, Deposit, Withdraw>;
//     static void apply(State&, const Event&);
//     static Decision<Event> decide(const State&, const Command&);
//     static constexpr int kStateVersion = 1;  // optional; bump when State's JSON changes
//   };
//
//   AggregateStore<Account> accounts(client, types, {.snapshot_every = 100});
//   CommandResult r = accounts.handle("42", Withdraw{30}, CommandContext{});
//   if (!r.accepted) show(r.reasons);
//
// handle(id, command): takes the aggregate's state (from the in-memory cache, else loads its
// stream through the reader, starting from the latest snapshot when there is one), decides the
// command, and appends the events with the version it decided on as the expected version. When
// another writer got there first (WrongExpectedVersion) it reads the newer events, decides again
// and retries, at most max_attempts times with a short random back-off; then it throws
// ConcurrencyConflict. Rejections are results, not exceptions; Timeout / Unavailable /
// EventDecodeError propagate.
//
// Commands carry an id (CommandContext::command_id). The i-th event of a command gets the id
// derive_id(command_id, i), so handling the same command twice (a retry after a Timeout, a
// process manager that restarts) writes its events once: the second time finds them in the
// stream (or the writer reports them as stored) and returns accepted with `already_handled`.
// Detection covers the last kRecentEvents events of the aggregate (the snapshot keeps their ids).
//
// Snapshots (snapshot_every = N > 0; State must be JSON-convertible): after an append that
// crosses a multiple of N, the state is appended to the stream "snapshot$<stream>" (category
// "snapshot$<category>", so category readers of the aggregate never see it) as one "Snapshot"
// event: {"version", "state_version", "state", "recent_event_ids"}. A load reads the last
// snapshot (one backward read of one event) and then the events after its version. A snapshot
// whose state_version differs from A::kStateVersion is ignored (full replay). Snapshots are an
// optimisation: a failed snapshot append is ignored.
//
// Metadata: every event gets EventMetadata{correlation_id = the context's (or the command id),
// causation_id = the command id, schema_version}.
//
// Thread-safe: any number of threads may call handle() and load() at once; the Client and the
// EventTypes must outlive the AggregateStore.
#pragma once

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "even/client/client.h"
#include "even/client/errors.h"
#include "even/client/event_types.h"

namespace even::client {

// What a command handler decided: events to append, or a rejection with reasons.
template <typename Event>
struct Decision {
  std::vector<Event> events;
  std::vector<std::string> reasons;  // non-empty: rejected

  static Decision accept(std::vector<Event> events) { return Decision{std::move(events), {}}; }
  static Decision accept(Event e) { return accept(std::vector<Event>{std::move(e)}); }
  static Decision reject(std::vector<std::string> reasons) { return Decision{{}, std::move(reasons)}; }
  static Decision reject(std::string reason) { return reject(std::vector<std::string>{std::move(reason)}); }
  bool rejected() const { return !reasons.empty(); }
};

// Who sends a command and why: its id (the idempotency key), the correlation id of the chain it
// belongs to (empty: the command starts one, its own id is used) and what caused it (recorded by
// the events of process managers that react to events: see caused_by).
struct CommandContext {
  EventId command_id = EventId::random();
  std::string correlation_id;

  // A command sent in reaction to `event`, step `step` of the reaction: its id is derived from
  // the event's id and the step (so reacting twice sends the same command), its correlation id
  // is the event's.
  static CommandContext caused_by(const RecordedEvent& event, std::string_view step);
  // A command with a fixed id given as text (e.g. from a command line or an HTTP request):
  // the same text gives the same id.
  static CommandContext with_id(std::string_view id_text, std::string correlation_id = {});
  std::string effective_correlation_id() const {
    return correlation_id.empty() ? command_id.to_string() : correlation_id;
  }
};

struct CommandResult {
  bool accepted = false;
  std::vector<std::string> reasons;  // why it was rejected
  StreamSeq version;                 // the aggregate's version after the command (as seen when rejected)
  GlobalSeq first_global_seq;        // of the events written (0 when none)
  GlobalSeq last_global_seq;
  std::size_t events = 0;            // events the command wrote
  int attempts = 0;                  // decisions made (1 + conflict retries)
  bool already_handled = false;      // an earlier try of this command had written its events
};

// The conflict retries of handle() ran out: other writers kept changing the aggregate.
class ConcurrencyConflict : public Error {
 public:
  explicit ConcurrencyConflict(const std::string& message) : Error(ErrorCode::wrong_expected_version, message) {}
};

struct AggregateOptions {
  int max_attempts = 25;                          // decisions per handle() before ConcurrencyConflict
  std::chrono::microseconds max_backoff{20000};   // random wait before a retry: up to min(attempt*2ms, this)
  std::int64_t snapshot_every = 0;                // 0: no snapshots
  std::size_t cache_size = 10000;                 // aggregates kept in memory (0: load each time)
};

namespace detail {

inline constexpr std::size_t kRecentEvents = 64;

// The version-independent state of a loaded aggregate.
struct LoadInfo {
  StreamSeq version;                 // 0: no events yet
  std::deque<EventId> recent_ids;    // ids of the last kRecentEvents events
  bool from_snapshot = false;
  std::size_t replayed = 0;          // events read and applied by the load
  void remember(const EventId& id) {
    recent_ids.push_back(id);
    if (recent_ids.size() > kRecentEvents) recent_ids.pop_front();
  }
  bool has(const EventId& id) const { return std::find(recent_ids.begin(), recent_ids.end(), id) != recent_ids.end(); }
};

struct SnapshotRecord {
  StreamSeq version;
  int state_version = 1;
  Json state;
  std::deque<EventId> recent_ids;
};

std::string snapshot_stream(const std::string& stream);
// The latest snapshot of `stream`, or nullopt.
std::optional<SnapshotRecord> read_snapshot(Client& client, const std::string& stream);
// Appends a snapshot (best effort: errors are swallowed). Returns whether it was stored.
bool write_snapshot(Client& client, const std::string& stream, const SnapshotRecord& snapshot);
// Calls `f` for each event of `stream` with stream_seq >= from, in order (none when the stream
// does not exist).
// Returns false when the stream does not exist (never written, or deleted).
bool for_each_event(Client& client, const std::string& stream, StreamSeq from,
                    const std::function<void(const RecordedEvent&)>& f);
// Waits a random time before conflict retry number `attempt` (1-based).
void backoff(int attempt, std::chrono::microseconds max);

template <typename T>
concept JsonConvertible = requires(const T& t, Json& j) {
  j = t;
  { j.get<T>() } -> std::same_as<T>;
};

}  // namespace detail

template <typename A>
concept Aggregate = requires {
  { A::kCategory } -> std::convertible_to<std::string_view>;
  typename A::State;
  typename A::Event;
  typename A::Command;
} && std::default_initializable<typename A::State> &&
    requires(typename A::State& s, const typename A::Event& e, const typename A::Command& c) {
      A::apply(s, e);
      { A::decide(std::as_const(s), c) } -> std::same_as<Decision<typename A::Event>>;
    };

template <Aggregate A>
class AggregateStore {
 public:
  using State = typename A::State;
  using Event = typename A::Event;
  using Command = typename A::Command;

  // An aggregate's state as loaded.
  struct Loaded {
    State state;
    detail::LoadInfo info;
  };

  AggregateStore(Client& client, const EventTypes<Event>& types, AggregateOptions options = {})
      : client_(client), types_(types), options_(options) {
    if constexpr (!detail::JsonConvertible<State>)
      if (options_.snapshot_every > 0) throw std::logic_error("snapshots need a JSON-convertible State");
  }

  static std::string stream_of(std::string_view id) { return std::string(A::kCategory) + "-" + std::string(id); }
  static constexpr int state_version() {
    if constexpr (requires { A::kStateVersion; })
      return A::kStateVersion;
    else
      return 1;
  }

  // Decides `command` against the aggregate `id` and appends what it decided (see the top).
  CommandResult handle(std::string_view id, const Command& command, const CommandContext& ctx = {}) {
    const std::string stream = stream_of(id);
    const EventId first_id = derive_id(ctx.command_id, "0");
    Loaded current = cached_or_load(stream);
    CommandResult result;
    for (int attempt = 1;; ++attempt) {
      result.attempts = attempt;
      result.version = current.info.version;
      if (current.info.has(first_id)) {
        result.accepted = result.already_handled = true;
        return result;
      }
      Decision<Event> decision = A::decide(std::as_const(current.state), command);
      if (decision.rejected()) {
        result.reasons = std::move(decision.reasons);
        return result;
      }
      if (decision.events.empty()) {
        result.accepted = true;
        return result;
      }
      EventMetadata md;
      md.correlation_id = ctx.effective_correlation_id();
      md.causation_id = ctx.command_id.to_string();
      std::vector<NewEvent> batch;
      batch.reserve(decision.events.size());
      for (std::size_t i = 0; i < decision.events.size(); ++i)
        batch.push_back(types_.encode(decision.events[i], md, derive_id(ctx.command_id, std::to_string(i))));
      const StreamSeq before = current.info.version;
      const ExpectedVersion expected =
          before.value() == 0 ? ExpectedVersion::no_stream() : ExpectedVersion::exact(before.value());
      try {
        AppendResult r = client_.append(stream, expected, batch);
        if (r.idempotent) {
          forget(stream);
          result.accepted = result.already_handled = true;
          result.version = r.last_stream_seq;
          return result;
        }
        for (std::size_t i = 0; i < decision.events.size(); ++i) {
          A::apply(current.state, decision.events[i]);
          current.info.remember(batch[i].id);
        }
        current.info.version = r.last_stream_seq;
        result.accepted = true;
        result.version = r.last_stream_seq;
        result.first_global_seq = r.first_global_seq;
        result.last_global_seq = r.last_global_seq;
        result.events = batch.size();
        maybe_snapshot(stream, before, current);
        remember(stream, current);
        return result;
      } catch (const DuplicateEvent&) {
        // The ids are stored at other positions: an earlier try of this command was written.
        forget(stream);
        result.accepted = result.already_handled = true;
        return result;
      } catch (const WrongExpectedVersion& e) {
        if (attempt >= options_.max_attempts)
          throw ConcurrencyConflict("command on " + stream + " still conflicted after " + std::to_string(attempt) +
                                    " attempts: " + e.what());
        detail::backoff(attempt, options_.max_backoff);
        if (e.current_version() > current.info.version.value())
          catch_up(stream, current);  // read only the newer events
        else
          current = load(id);         // the stream went back (deleted?): start over
      }
    }
  }

  // The aggregate's state: the latest snapshot (if enabled and present) plus the events after it.
  Loaded load(std::string_view id) { return load_stream(stream_of(id), options_.snapshot_every > 0); }
  // The state from every event, ignoring snapshots (to check them, or after a State change).
  Loaded replay(std::string_view id) { return load_stream(stream_of(id), false); }

  // Drops the cached states (e.g. when a test rewrites streams behind the store's back).
  void clear_cache() {
    std::lock_guard lock(mu_);
    cache_.clear();
  }

 private:
  Loaded load_stream(const std::string& stream, bool use_snapshot) {
    Loaded l;
    if constexpr (detail::JsonConvertible<State>) {
      if (use_snapshot) {
        if (auto snap = detail::read_snapshot(client_, stream); snap && snap->state_version == state_version()) {
          l.state = snap->state.template get<State>();
          l.info.version = snap->version;
          l.info.recent_ids = std::move(snap->recent_ids);
          l.info.from_snapshot = true;
        }
      }
    }
    const StreamSeq snapshot_version = l.info.version;
    std::optional<StreamSeq> first;  // the first event after the snapshot
    const bool found = catch_up(stream, l, &first);
    // A snapshot of events that a delete, truncate, max-count or max-age hides now would bring
    // their state back: without the stream, or with a gap after the snapshot, it is discarded
    // and the state replayed from what is visible. (A stream deleted exactly at the snapshot's
    // version and started again shows no gap: that snapshot is kept.)
    if (l.info.from_snapshot && (!found || (first && first->value() > snapshot_version.value() + 1))) {
      l = Loaded{};
      catch_up(stream, l);
    }
    return l;
  }

  // Returns false when the stream does not exist.
  bool catch_up(const std::string& stream, Loaded& l, std::optional<StreamSeq>* first = nullptr) {
    return detail::for_each_event(client_, stream, l.info.version.next(), [&](const RecordedEvent& e) {
      if (first && !*first) *first = e.stream_seq;
      A::apply(l.state, types_.decode(e));
      l.info.version = e.stream_seq;
      l.info.remember(e.id);
      ++l.info.replayed;
    });
  }

  void maybe_snapshot(const std::string& stream, StreamSeq before, const Loaded& now) {
    if constexpr (detail::JsonConvertible<State>) {
      const std::int64_t n = options_.snapshot_every;
      if (n <= 0 || before.value() / n == now.info.version.value() / n) return;
      detail::SnapshotRecord s{now.info.version, state_version(), Json(now.state), now.info.recent_ids};
      detail::write_snapshot(client_, stream, s);
    }
  }

  Loaded cached_or_load(const std::string& stream) {
    if (options_.cache_size > 0) {
      std::lock_guard lock(mu_);
      if (auto it = cache_.find(stream); it != cache_.end()) return it->second;
    }
    return load_stream(stream, options_.snapshot_every > 0);
  }

  void remember(const std::string& stream, const Loaded& l) {
    if (options_.cache_size == 0) return;
    std::lock_guard lock(mu_);
    auto it = cache_.find(stream);
    if (it != cache_.end()) {
      if (it->second.info.version < l.info.version) it->second = l;
      return;
    }
    if (cache_.size() >= options_.cache_size) cache_.erase(cache_.begin());
    cache_.emplace(stream, l);
  }

  void forget(const std::string& stream) {
    std::lock_guard lock(mu_);
    cache_.erase(stream);
  }

  Client& client_;
  const EventTypes<Event>& types_;
  const AggregateOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, Loaded> cache_;  // guarded by mu_: stream -> last known state
};

}  // namespace even::client
