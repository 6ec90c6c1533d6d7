#include "groups/group.h"

#include <algorithm>

namespace even::groups {

std::string validate_group_name(std::string_view name) {
  if (name.empty()) return "a group name must not be empty";
  if (name.size() > 100) return "a group name has at most 100 bytes";
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == ':';
    if (!ok) return "a group name holds only letters, digits, '_', '.' and ':'";
  }
  return "";
}

std::string validate_settings(const GroupSettings& s) {
  switch (s.source) {
    case SourceKind::stream:
      if (auto why = validate_stream_name(s.value); !why.empty()) return "--stream: " + why;
      if (s.value.starts_with(std::string(kParkedCategory) + "-"))
        return "--stream: parked streams are not a group's source (read them with the reader; replay-parked hands "
               "them out again)";
      break;
    case SourceKind::category:
      if (s.value.empty() || s.value.size() > kMaxStreamNameBytes || s.value.find('-') != std::string::npos ||
          !validate_stream_name(s.value).empty())
        return "--category: a category is a stream name's part before its first '-' (1..200 bytes, no '-')";
      if (s.value == kParkedCategory) return "--category: the parked streams are not a group's source";
      break;
    case SourceKind::event_type:
      if (auto why = validate_event_type(s.value); !why.empty()) return "--type: " + why;
      if (s.value == kParkedEventType) return "--type: parked copies are not a group's source";
      break;
    case SourceKind::all:
      if (!s.value.empty()) return "a group over $all takes no stream, category or type";
      break;
    default:
      return "unknown source kind";
  }
  if (s.max_retries > 1000) return "--max-retries must be 0..1000";
  if (s.ack_timeout.count() < 100 || s.ack_timeout.count() > 3600000) return "--ack-timeout-ms must be 100..3600000";
  if (s.max_in_flight < 1 || s.max_in_flight > 10000) return "--max-in-flight must be 1..10000";
  if (s.ordering != Ordering::per_stream && s.ordering != Ordering::unordered) return "unknown ordering";
  return "";
}

const char* to_string(SourceKind kind) {
  switch (kind) {
    case SourceKind::stream: return "stream";
    case SourceKind::category: return "category";
    case SourceKind::event_type: return "type";
    case SourceKind::all: return "all";
  }
  return "?";
}

const char* to_string(Ordering ordering) { return ordering == Ordering::unordered ? "unordered" : "per-stream"; }

Group::Group(std::string name, GroupSettings settings, GlobalSeq checkpoint, std::int64_t replay_to,
             std::int64_t replay_until, std::size_t max_buffered, DeliveryId* next_delivery_id)
    : name_(std::move(name)),
      settings_(std::move(settings)),
      max_buffered_(max_buffered),
      next_delivery_id_(next_delivery_id),
      checkpoint_(std::max(checkpoint, GlobalSeq(settings_.start_from.value() > 0 ? settings_.start_from.value() - 1 : 0))),
      read_position_(checkpoint_),
      replay_to_(replay_to),
      replay_until_(std::max(replay_until, replay_to)),
      replay_fetched_(replay_to) {}

std::size_t Group::room() const { return live_.size() >= max_buffered_ ? 0 : max_buffered_ - live_.size(); }

void Group::add(RecordedEvent e) {
  const std::uint64_t seq = e.global_seq.value();
  read_position_ = e.global_seq;
  auto& entry = live_[seq];
  entry.event = std::move(e);
  if (settings_.ordering == Ordering::per_stream) {
    auto& queue = streams_[entry.event.stream];
    queue.push_back(seq);
    if (queue.size() == 1) ready_live_.insert(seq);
  } else {
    ready_live_.insert(seq);
  }
}

void Group::fetched_up_to(GlobalSeq to) {
  if (to <= read_position_) return;
  read_position_ = to;
  if (live_.empty()) checkpoint_ = read_position_;
}

std::size_t Group::replay_room() const {
  const std::size_t cap = std::max<std::size_t>(max_buffered_ / 4, 1);
  return replay_.size() >= cap ? 0 : cap - replay_.size();
}

void Group::add_replay(std::int64_t parked_seq, RecordedEvent e) {
  replay_fetched_ = std::max(replay_fetched_, parked_seq);
  auto& entry = replay_[static_cast<std::uint64_t>(parked_seq)];
  entry.event = std::move(e);
  ready_replay_.insert(static_cast<std::uint64_t>(parked_seq));
}

void Group::replay_fetched_up_to(std::int64_t to) {
  replay_fetched_ = std::max(replay_fetched_, to);
  if (replay_.empty()) replay_to_ = std::max(replay_to_, std::min(replay_fetched_, replay_until_));
}

void Group::subscribe(const std::string& consumer, std::uint32_t max_in_flight, Clock::time_point now) {
  auto& c = consumers_[consumer];
  c.max_in_flight = max_in_flight == 0 ? settings_.max_in_flight : std::min(max_in_flight, settings_.max_in_flight);
  c.last_seen = now;
}

void Group::touch(const std::string& consumer, Clock::time_point now) {
  if (auto c = consumers_.find(consumer); c != consumers_.end()) c->second.last_seen = now;
}

void Group::remove_consumer(const std::string& consumer) {
  auto c = consumers_.find(consumer);
  if (c == consumers_.end()) return;
  const std::vector<DeliveryId> held(c->second.holding.begin(), c->second.holding.end());
  std::vector<InFlight> taken;
  take_held(consumer, held, taken);
  consumers_.erase(consumer);
  for (const auto& f : taken) failed(f.replayed, f.key, "its consumer went away");
}

std::vector<std::string> Group::consumers() const {
  std::vector<std::string> out;
  for (const auto& [id, c] : consumers_) out.push_back(id);
  return out;
}

std::vector<std::string> Group::remove_silent(Clock::time_point silent_since) {
  std::vector<std::string> gone;
  for (const auto& [id, c] : consumers_)
    if (c.last_seen < silent_since) gone.push_back(id);
  for (const auto& id : gone) remove_consumer(id);
  return gone;
}

Group::Entry* Group::find(bool replayed, std::uint64_t key) {
  auto& map = replayed ? replay_ : live_;
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

std::vector<std::pair<std::string, std::vector<Delivery>>> Group::dispatch(Clock::time_point now) {
  std::vector<std::pair<std::string, std::vector<Delivery>>> out;
  if (consumers_.empty()) return out;
  std::map<std::string, std::size_t> slot;  // consumer -> index in out
  auto has_room = [](const Consumer& c) { return c.holding.size() < c.max_in_flight; };
  // The next consumer with room after `after` in round-robin order, skipping `avoid` when another
  // has room; nullptr when none has room.
  auto pick = [&](const std::string& avoid) -> std::map<std::string, Consumer>::iterator {
    auto it = consumers_.upper_bound(last_served_);
    std::map<std::string, Consumer>::iterator fallback = consumers_.end();
    for (std::size_t n = 0; n < consumers_.size(); ++n, ++it) {
      if (it == consumers_.end()) it = consumers_.begin();
      if (!has_room(it->second)) continue;
      if (!avoid.empty() && it->first == avoid) {
        fallback = it;
        continue;
      }
      return it;
    }
    return fallback;
  };
  while (!ready_replay_.empty() || !ready_live_.empty()) {
    // Replayed parked events first: they are older than anything live.
    const bool replayed = !ready_replay_.empty();
    auto& ready = replayed ? ready_replay_ : ready_live_;
    const std::uint64_t key = *ready.begin();
    Entry& entry = *find(replayed, key);
    auto c = pick(entry.last_consumer);
    if (c == consumers_.end()) break;
    ready.erase(ready.begin());
    const DeliveryId id = (*next_delivery_id_)++;
    entry.state = State::in_flight;
    if (entry.deliveries > 0) ++counters_.redelivered;
    ++counters_.delivered;
    const std::uint32_t retry_count = entry.deliveries++;
    entry.last_consumer = c->first;
    c->second.holding.insert(id);
    in_flight_[id] = InFlight{replayed, key, c->first, now + settings_.ack_timeout};
    last_served_ = c->first;
    auto [s, fresh] = slot.emplace(c->first, out.size());
    if (fresh) out.emplace_back(c->first, std::vector<Delivery>{});
    out[s->second].second.push_back(Delivery{id, &entry.event, retry_count, replayed});
  }
  return out;
}

std::vector<DeliveryId> Group::take_held(const std::string& consumer, const std::vector<DeliveryId>& ids,
                                         std::vector<InFlight>& taken) {
  std::vector<DeliveryId> refused;
  auto c = consumers_.find(consumer);
  for (DeliveryId id : ids) {
    auto f = in_flight_.find(id);
    if (c == consumers_.end() || f == in_flight_.end() || f->second.consumer != consumer) {
      refused.push_back(id);
      continue;
    }
    c->second.holding.erase(id);
    taken.push_back(std::move(f->second));
    in_flight_.erase(f);
  }
  return refused;
}

std::vector<DeliveryId> Group::ack(const std::string& consumer, const std::vector<DeliveryId>& ids) {
  std::vector<InFlight> taken;
  auto refused = take_held(consumer, ids, taken);
  for (const auto& f : taken) {
    ++counters_.acked;
    settle(f.replayed, f.key);
  }
  return refused;
}

std::vector<DeliveryId> Group::nack(const std::string& consumer, const std::vector<DeliveryId>& ids, NackAction action,
                                    const std::string& reason) {
  std::vector<InFlight> taken;
  auto refused = take_held(consumer, ids, taken);
  for (const auto& f : taken) {
    switch (action) {
      case NackAction::skip:
        ++counters_.skipped;
        settle(f.replayed, f.key);
        break;
      case NackAction::park: {
        to_park(f.replayed, f.key, "parked by its consumer: " + reason);
        break;
      }
      case NackAction::retry:
        failed(f.replayed, f.key, "nacked: " + reason);
        break;
    }
  }
  return refused;
}

void Group::expire(Clock::time_point now) {
  std::vector<DeliveryId> late;
  for (const auto& [id, f] : in_flight_)
    if (f.deadline <= now) late.push_back(id);
  for (DeliveryId id : late) {
    auto f = in_flight_.find(id);
    InFlight gone = std::move(f->second);
    in_flight_.erase(f);
    if (auto c = consumers_.find(gone.consumer); c != consumers_.end()) c->second.holding.erase(id);
    ++counters_.timed_out;
    failed(gone.replayed, gone.key, "not acked within the ack timeout");
  }
}

void Group::failed(bool replayed, std::uint64_t key, const std::string& reason) {
  Entry* e = find(replayed, key);
  if (e->deliveries > settings_.max_retries) {
    to_park(replayed, key, reason + " (delivered " + std::to_string(e->deliveries) + " times)");
    return;
  }
  make_ready(replayed, key);
}

void Group::make_ready(bool replayed, std::uint64_t key) {
  find(replayed, key)->state = State::waiting;
  // Still the oldest unsettled event of its stream (per_stream): it keeps its place.
  (replayed ? ready_replay_ : ready_live_).insert(key);
}

void Group::settle(bool replayed, std::uint64_t key) {
  Entry* e = find(replayed, key);
  e->state = State::settled;
  if (replayed) {
    while (!replay_.empty() && replay_.begin()->second.state == State::settled) {
      replay_to_ = static_cast<std::int64_t>(replay_.begin()->first);
      replay_.erase(replay_.begin());
    }
    if (replay_.empty()) replay_to_ = std::max(replay_to_, std::min(replay_fetched_, replay_until_));
    return;
  }
  if (settings_.ordering == Ordering::per_stream) {
    auto q = streams_.find(e->event.stream);
    auto& queue = q->second;
    queue.erase(std::find(queue.begin(), queue.end(), key));  // the front, in per_stream order
    if (queue.empty()) streams_.erase(q);
    else if (live_.at(queue.front()).state == State::waiting) ready_live_.insert(queue.front());
  }
  while (!live_.empty() && live_.begin()->second.state == State::settled) {
    checkpoint_ = GlobalSeq(live_.begin()->first);
    live_.erase(live_.begin());
  }
  if (live_.empty()) checkpoint_ = read_position_;
}

void Group::to_park(bool replayed, std::uint64_t key, std::string reason) {
  Entry* e = find(replayed, key);
  e->state = State::to_park;
  if (reason.size() > kMaxParkReasonBytes) {
    reason.resize(kMaxParkReasonBytes);
    reason += "...";
  }
  e->park_reason = std::move(reason);
  if (!e->copy_id) e->copy_id = EventId::random();
  to_park_.emplace_back(replayed, key);
}

std::vector<ToPark> Group::take_to_park(std::size_t max_count, std::size_t max_bytes) {
  std::vector<ToPark> out;
  std::size_t bytes = 0, taken = 0;
  for (; taken < to_park_.size() && out.size() < max_count; ++taken) {
    const auto [replayed, key] = to_park_[taken];
    Entry* e = find(replayed, key);
    const std::size_t size = e->event.payload.size() + e->park_reason.size();
    if (!out.empty() && bytes + size > max_bytes) break;
    bytes += size;
    e->state = State::parking;
    out.push_back(ToPark{replayed, key, &e->event, e->park_reason, e->deliveries, *e->copy_id});
  }
  to_park_.erase(to_park_.begin(), to_park_.begin() + static_cast<std::ptrdiff_t>(taken));
  return out;
}

void Group::park_done(bool replayed, std::uint64_t key) {
  ++counters_.parked;
  settle(replayed, key);
}

void Group::park_failed(bool replayed, std::uint64_t key) {
  Entry* e = find(replayed, key);
  e->state = State::to_park;
  to_park_.emplace_back(replayed, key);
}

}  // namespace even::groups
