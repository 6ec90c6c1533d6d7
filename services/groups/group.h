// Group: one persistent subscription group in memory — the events fetched and not yet settled,
// the consumers and what each holds, retries, timeouts and the checkpoint. No I/O: the service
// (groups_service.h) fetches events from the store into it, sends what dispatch() hands out,
// appends what take_to_park() returns to the parked stream and saves checkpoint().
//
// An event is settled when it is acked, skipped, or parked (its parked copy appended). The
// checkpoint is the position below which every fetched event is settled, so after a restart the
// group fetches from checkpoint + 1 on and nothing unsettled is lost (settled events above the
// checkpoint are delivered again: at-least-once).
//
// Ordering per_stream: of each stream only its oldest unsettled event may be in flight or ready,
// so a stream's events reach consumers one at a time, in order (a retry keeps its place).
// unordered: every waiting event is ready.
//
// Not thread-safe: the service's thread is its only user.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "even/common/event.h"

namespace even::groups {

enum class SourceKind { stream = 0, category = 1, event_type = 2, all = 3 };
enum class Ordering { per_stream = 0, unordered = 1 };
enum class NackAction { retry = 0, park = 1, skip = 2 };

struct GroupSettings {
  SourceKind source = SourceKind::all;
  std::string value;  // the stream, category or event type; empty for all
  std::uint32_t max_retries = 10;
  std::chrono::milliseconds ack_timeout{30000};
  std::uint32_t max_in_flight = 100;  // per consumer
  Ordering ordering = Ordering::per_stream;
  GlobalSeq start_from{0};
  bool operator==(const GroupSettings&) const = default;
};

// Empty when valid, otherwise why not. Group names: 1..100 bytes of [A-Za-z0-9_.:], so that
// "parked-<name>" is a valid stream name.
std::string validate_group_name(std::string_view name);
std::string validate_settings(const GroupSettings& s);
// Where a group's parked events go: an ordinary stream, readable like any other, of category
// "parked". A parked copy has the type kParkedEventType (the original's type, stream, position
// and id are in its metadata "parked"). No group reads the "parked" category, whatever its
// source: a group over $all or over a type would otherwise get its own copies back (and park
// them again, forever). validate_settings refuses a stream, category or type naming them.
inline constexpr std::string_view kParkedCategory = "parked";
inline constexpr std::string_view kParkedEventType = "even.parked";
inline std::string parked_stream_of(std::string_view group) { return std::string(kParkedCategory) + "-" + std::string(group); }
const char* to_string(SourceKind kind);
const char* to_string(Ordering ordering);

using Clock = std::chrono::steady_clock;
using DeliveryId = std::uint64_t;

// One event handed to one consumer. `event` points into the Group and is valid until the next
// call that changes the Group.
struct Delivery {
  DeliveryId id;
  const RecordedEvent* event;
  std::uint32_t retry_count;
  bool replayed;
};

// An event to append to the parked stream; hand back park_done() or park_failed() with its key.
struct ToPark {
  bool replayed;
  std::uint64_t key;  // the live event's global seq, or the replayed one's parked-stream seq
  const RecordedEvent* event;
  std::string reason;
  std::uint32_t deliveries;
  EventId copy_id;  // the parked copy's id: chosen once, the same on every retry of its append
};

// A nack's reason is kept up to this many bytes (the parked copy's metadata stays small).
inline constexpr std::size_t kMaxParkReasonBytes = 1024;

struct GroupCounters {
  std::uint64_t delivered = 0;
  std::uint64_t redelivered = 0;
  std::uint64_t acked = 0;
  std::uint64_t skipped = 0;
  std::uint64_t parked = 0;
  std::uint64_t timed_out = 0;
};

class Group {
 public:
  // `checkpoint` and the replay positions as saved in the store. `max_buffered`: unsettled
  // events held at most (fetched, waiting, in flight); `next_delivery_id` is shared by the
  // service's groups so that ids are unique across them.
  Group(std::string name, GroupSettings settings, GlobalSeq checkpoint, std::int64_t replay_to,
        std::int64_t replay_until, std::size_t max_buffered, DeliveryId* next_delivery_id);

  const std::string& name() const { return name_; }
  const GroupSettings& settings() const { return settings_; }

  // --- events from the store ---
  // Everything matching at or below read_position() has been fetched.
  GlobalSeq read_position() const { return read_position_; }
  // How many more live events add() takes now.
  std::size_t room() const;
  // A fetched event: e.global_seq > read_position(). Moves read_position() to it.
  void add(RecordedEvent e);
  // Nothing else matches up to `to` (a range read came back short): read_position() = to.
  void fetched_up_to(GlobalSeq to);

  // --- replay of parked events ---
  // Parked-stream positions: settled up to replay_to(), asked up to replay_until(), fetched up to
  // replay_fetched().
  std::int64_t replay_to() const { return replay_to_; }
  std::int64_t replay_until() const { return replay_until_; }
  std::int64_t replay_fetched() const { return replay_fetched_; }
  void replay(std::int64_t until) { replay_until_ = std::max(replay_until_, until); }
  std::size_t replay_room() const;
  // The original event of parked-stream position `parked_seq` (> replay_fetched()).
  void add_replay(std::int64_t parked_seq, RecordedEvent e);
  // Parked-stream positions up to `to` fetched (some may be gone).
  void replay_fetched_up_to(std::int64_t to);
  std::size_t replay_pending() const { return replay_.size(); }

  // --- consumers (by the service's connection id) ---
  // Adds or updates a consumer; max_in_flight 0 or above the group's: the group's.
  void subscribe(const std::string& consumer, std::uint32_t max_in_flight, Clock::time_point now);
  bool has_consumer(const std::string& consumer) const { return consumers_.count(consumer) != 0; }
  void touch(const std::string& consumer, Clock::time_point now);
  // Its in-flight events go back to the group (a failed delivery each: they count as retries).
  void remove_consumer(const std::string& consumer);
  std::vector<std::string> consumers() const;
  // Consumers silent since before `silent_since`; removed as remove_consumer does.
  std::vector<std::string> remove_silent(Clock::time_point silent_since);

  // What to send now: ready events to consumers with room, oldest first; an event delivered
  // before goes to another consumer than last time when one has room.
  std::vector<std::pair<std::string, std::vector<Delivery>>> dispatch(Clock::time_point now);

  // Settles the deliveries of `consumer` named by `ids`; returns the ids refused (not in flight
  // at this consumer): those change nothing.
  std::vector<DeliveryId> ack(const std::string& consumer, const std::vector<DeliveryId>& ids);
  std::vector<DeliveryId> nack(const std::string& consumer, const std::vector<DeliveryId>& ids, NackAction action,
                               const std::string& reason);
  // Deliveries unacked past the ack timeout go back (retry, or park after max_retries).
  void expire(Clock::time_point now);

  // --- parking ---
  // The next events to park, oldest request first: at most `max_count`, and no more once their
  // payloads and reasons reach `max_bytes` (one at least). The rest stay for the next call.
  std::vector<ToPark> take_to_park(std::size_t max_count = SIZE_MAX, std::size_t max_bytes = SIZE_MAX);
  bool has_to_park() const { return !to_park_.empty(); }
  void park_done(bool replayed, std::uint64_t key);
  void park_failed(bool replayed, std::uint64_t key);  // back to waiting: parked later

  GlobalSeq checkpoint() const { return checkpoint_; }
  std::size_t in_flight() const { return in_flight_.size(); }
  std::size_t buffered() const { return live_.size(); }
  const GroupCounters& counters() const { return counters_; }

 private:
  enum class State { waiting, in_flight, to_park, parking, settled };
  struct Entry {
    RecordedEvent event;
    State state = State::waiting;
    std::uint32_t deliveries = 0;  // deliveries so far (retries + 1 once handed out)
    std::string last_consumer;
    std::string park_reason;
    std::optional<EventId> copy_id;  // its parked copy's id, once it goes to be parked
  };
  struct InFlight {
    bool replayed;
    std::uint64_t key;
    std::string consumer;
    Clock::time_point deadline;
  };
  struct Consumer {
    std::uint32_t max_in_flight;
    std::set<DeliveryId> holding;
    Clock::time_point last_seen;
  };

  Entry* find(bool replayed, std::uint64_t key);
  // A delivery failed (nack retry, timeout, consumer gone): waiting again, or to be parked.
  void failed(bool replayed, std::uint64_t key, const std::string& reason);
  void make_ready(bool replayed, std::uint64_t key);
  void to_park(bool replayed, std::uint64_t key, std::string reason);
  void settle(bool replayed, std::uint64_t key);
  std::vector<DeliveryId> take_held(const std::string& consumer, const std::vector<DeliveryId>& ids,
                                    std::vector<InFlight>& taken);

  std::string name_;
  GroupSettings settings_;
  std::size_t max_buffered_;
  DeliveryId* next_delivery_id_;
  GlobalSeq checkpoint_;
  GlobalSeq read_position_;
  std::int64_t replay_to_, replay_until_, replay_fetched_;
  std::map<std::uint64_t, Entry> live_;    // by global seq: unsettled, and settled above an unsettled one
  std::map<std::uint64_t, Entry> replay_;  // by parked-stream seq, the same
  // per_stream: each stream's unsettled live events, oldest first; only the front may be ready.
  std::unordered_map<std::string, std::deque<std::uint64_t>> streams_;
  std::set<std::uint64_t> ready_live_, ready_replay_;
  std::unordered_map<DeliveryId, InFlight> in_flight_;
  std::map<std::string, Consumer> consumers_;
  std::string last_served_;  // round robin over consumers
  std::vector<std::pair<bool, std::uint64_t>> to_park_;
  GroupCounters counters_;
};

}  // namespace even::groups
