// Persistent subscription groups (even-groups, services/groups/README.md): competing consumers
// over a stream, a category, an event type or $all. Each event of the group goes to one of the
// group's consumers at a time; the consumer acks it (settled) or nacks it (retry, park, skip).
// The group's checkpoint lives in the store, so nothing is lost when consumers or the service
// restart: delivery is at least once, and a handler must be idempotent.
//
//   even::client::GroupsClient groups(options);
//   groups.create("billing", {.source = GroupSource::category, .value = "order"});
//   even::client::PersistentSubscription sub(options, "billing", [&](const RecordedEvent& e, const DeliveryInfo&) {
//     bill(e);                                   // returns: acked
//     if (bad(e)) throw ParkEvent("no price");   // parked in "parked-billing" at once
//   });                                          // any other exception: retried, parked after max_retries
//
// The handler runs on the subscription's thread, one event at a time. What it settles is sent at
// least every 100 ms while a batch of deliveries runs (and at its end), with the heartbeat when it
// is due, so a slow handler holds back neither the acks before it nor the consumer's liveness;
// an event still waits in the batch while its ack timeout runs, so keep max_in_flight times a
// handler's time below the group's ack timeout.
//
// Both talk to ClientOptions::groups_endpoint (with groups_public_key under CURVE).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "even/client/client.h"

namespace even::client {

enum class GroupSource { stream, category, event_type, all };
enum class GroupOrdering { per_stream, unordered };

struct GroupSettings {
  GroupSource source = GroupSource::all;
  std::string value;  // the stream, category or event type; empty for all
  std::uint32_t max_retries = 10;  // deliveries after the first before the event is parked
  std::chrono::milliseconds ack_timeout{30000};
  std::uint32_t max_in_flight = 100;  // unacked deliveries per consumer
  GroupOrdering ordering = GroupOrdering::per_stream;
  GlobalSeq start_from{0};  // first global position (0: from the first event)
};

struct GroupInfo {
  std::string name;
  GroupSettings settings;
  GlobalSeq checkpoint;  // every event of the group at or below it is settled
  std::uint32_t consumers = 0;
  std::uint32_t in_flight = 0;
  std::uint64_t parked = 0;
  std::string parked_stream;  // "parked-<name>": an ordinary stream (Client::read_stream)
  std::uint64_t delivered = 0, redelivered = 0, acked = 0;  // since the service started
  std::uint64_t replay_pending = 0;
};

// Managing groups. Owns a ZeroMQ context and the DEALER socket of its I/O thread; thread-safe.
// Each call works or throws (errors.h): InvalidRequest for a bad name or setting or a name in
// use with other settings, NotFound for an unknown group, Timeout, Unavailable.
class GroupsClient {
 public:
  explicit GroupsClient(ClientOptions options);
  ~GroupsClient();
  GroupsClient(const GroupsClient&) = delete;
  GroupsClient& operator=(const GroupsClient&) = delete;

  // Creating a group that exists with the same settings succeeds (idempotent).
  void create(const std::string& name, const GroupSettings& settings);
  void remove(const std::string& name);  // its parked stream stays
  std::vector<GroupInfo> list();
  // Hands the group's parked events (those parked so far) to its consumers once more; returns how
  // many. Each is delivered with DeliveryInfo::replayed.
  std::uint64_t replay_parked(const std::string& name);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Throw from a handler to park the event at once (no more retries), or to drop it (settled
// without handling). Any other exception nacks it for a retry.
class ParkEvent : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class SkipEvent : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DeliveryInfo {
  std::uint32_t retry_count = 0;  // earlier deliveries of this event (to any consumer)
  bool replayed = false;          // handed out again by replay_parked
};

struct PersistentSubscriptionOptions {
  std::uint32_t max_in_flight = 0;              // this consumer's room (0: the group's)
  std::chrono::milliseconds heartbeat{1000};    // keeps the consumer known to the service
  std::chrono::milliseconds resubscribe_after{2000};  // no answer to a subscribe: send it again
  // Called on the subscription's thread with what an operator may want to know (joined, the
  // service forgot this consumer and it joins again, refused acks). Must not block.
  std::function<void(const std::string&)> on_notice;
  // Called on the subscription's thread just after an ack message is handed to the socket, with
  // the acked events' global positions (tests count what was acked, not only handled). Must not
  // block.
  std::function<void(const std::vector<GlobalSeq>&)> on_acked;
};

struct PersistentSubscriptionStats {
  std::uint64_t handled = 0;  // handler calls
  std::uint64_t acked = 0;
  std::uint64_t retried = 0;  // the handler threw
  std::uint64_t parked = 0;   // ParkEvent
  std::uint64_t skipped = 0;  // SkipEvent
  std::uint64_t refused = 0;  // acks/nacks the service did not take (it restarted, or the delivery timed out)
  std::uint64_t subscribes = 0;
};

// One consumer of a group. Owns a thread and the DEALER socket it alone uses; the handler runs on
// that thread, one event at a time, and its outcome is sent after each batch of deliveries.
class PersistentSubscription {
 public:
  using Handler = std::function<void(const RecordedEvent& event, const DeliveryInfo& info)>;

  // Starts at once. The subscription keeps going through service restarts; it stops by itself
  // only when the group does not exist (error() then holds NotFound).
  PersistentSubscription(ClientOptions client, std::string group, Handler handler,
                         PersistentSubscriptionOptions options = {});
  ~PersistentSubscription();  // stop()
  PersistentSubscription(const PersistentSubscription&) = delete;
  PersistentSubscription& operator=(const PersistentSubscription&) = delete;

  // Unsubscribes (what it holds unacked goes to the other consumers at once) and joins the
  // thread. Idempotent; not from the handler.
  void stop();
  bool running() const;
  std::exception_ptr error() const;
  PersistentSubscriptionStats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace even::client
