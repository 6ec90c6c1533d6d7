// The non-template parts of AggregateStore: snapshots, stream reads, back-off, command contexts.
#include "even/client/aggregate.h"

namespace even::client {

CommandContext CommandContext::caused_by(const RecordedEvent& event, std::string_view step) {
  CommandContext c;
  c.command_id = derive_id(event.id, step);
  c.correlation_id = EventMetadata::caused_by(event).correlation_id;
  return c;
}

CommandContext CommandContext::with_id(std::string_view id_text, std::string correlation_id) {
  CommandContext c;
  if (auto parsed = EventId::parse(id_text))
    c.command_id = *parsed;
  else
    c.command_id = derive_id(EventId(), id_text);
  c.correlation_id = std::move(correlation_id);
  return c;
}

namespace detail {

namespace {
constexpr const char* kSnapshotType = "Snapshot";
}

std::string snapshot_stream(const std::string& stream) { return "snapshot$" + stream; }

std::optional<SnapshotRecord> read_snapshot(Client& client, const std::string& stream) {
  std::vector<RecordedEvent> last;
  try {
    last = client.read_stream(snapshot_stream(stream), kStreamEnd, Direction::backward, 1).to_vector();
  } catch (const NotFound&) {
    return std::nullopt;
  }
  if (last.empty() || last.front().type != kSnapshotType) return std::nullopt;
  Json j = Json::parse(last.front().payload, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("version") || !j.contains("state")) return std::nullopt;
  SnapshotRecord s;
  s.version = StreamSeq(j["version"].get<std::int64_t>());
  s.state_version = j.value("state_version", 1);
  s.state = std::move(j["state"]);
  if (auto it = j.find("recent_event_ids"); it != j.end() && it->is_array())
    for (const auto& id : *it)
      if (id.is_string())
        if (auto parsed = EventId::parse(id.get<std::string>())) s.recent_ids.push_back(*parsed);
  return s;
}

bool write_snapshot(Client& client, const std::string& stream, const SnapshotRecord& snapshot) {
  Json j;
  j["version"] = snapshot.version.value();
  j["state_version"] = snapshot.state_version;
  j["state"] = snapshot.state;
  Json ids = Json::array();
  for (const auto& id : snapshot.recent_ids) ids.push_back(id.to_string());
  j["recent_event_ids"] = std::move(ids);
  NewEvent e;
  // The same snapshot written twice (two handlers crossing the same multiple) is stored once.
  e.id = derive_id(EventId(), stream + "@" + std::to_string(snapshot.version.value()));
  e.type = kSnapshotType;
  e.payload = j.dump();
  e.metadata = EventMetadata{}.to_json();
  try {
    client.append(snapshot_stream(stream), ExpectedVersion::any(), {e});
    return true;
  } catch (const Error&) {
    return false;  // an optimisation only: the next load replays a few more events
  }
}

bool for_each_event(Client& client, const std::string& stream, StreamSeq from,
                    const std::function<void(const RecordedEvent&)>& f) {
  EventStream events;
  try {
    events = client.read_stream(stream, from);
  } catch (const NotFound&) {
    return false;
  }
  for (const auto& e : events) f(e);
  return true;
}

void backoff(int attempt, std::chrono::microseconds max) {
  thread_local std::mt19937 rng{std::random_device{}()};
  const auto cap = std::min<std::int64_t>(max.count(), 2000ll * attempt);
  if (cap <= 0) return;
  std::uniform_int_distribution<std::int64_t> d(0, cap);
  std::this_thread::sleep_for(std::chrono::microseconds(d(rng)));
}

}  // namespace detail

}  // namespace even::client
