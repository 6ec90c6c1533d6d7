// Event metadata (correlation / causation / schema version), derived ids and upcaster chains.
#include "even/client/event_types.h"

#include <cstring>

namespace even::client {

namespace {

constexpr const char* kCorrelation = "correlation_id";
constexpr const char* kCausation = "causation_id";
constexpr const char* kSchema = "schema_version";

std::uint64_t fnv1a(std::uint64_t h, const void* data, std::size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

// splitmix64's finaliser: spreads FNV's weak low bits over the word.
std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

std::string EventMetadata::to_json() const {
  Json j = extra.is_object() ? extra : Json::object();
  if (!correlation_id.empty()) j[kCorrelation] = correlation_id;
  if (!causation_id.empty()) j[kCausation] = causation_id;
  j[kSchema] = schema_version;
  return j.dump();
}

EventMetadata EventMetadata::parse(std::string_view text) {
  EventMetadata m;
  if (text.empty()) return m;
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return m;
  if (auto it = j.find(kCorrelation); it != j.end() && it->is_string()) m.correlation_id = it->get<std::string>();
  if (auto it = j.find(kCausation); it != j.end() && it->is_string()) m.causation_id = it->get<std::string>();
  if (auto it = j.find(kSchema); it != j.end() && it->is_number_integer()) m.schema_version = it->get<int>();
  j.erase(kCorrelation);
  j.erase(kCausation);
  j.erase(kSchema);
  m.extra = std::move(j);
  return m;
}

EventMetadata EventMetadata::caused_by(const RecordedEvent& cause) {
  EventMetadata parent = parse(cause.metadata);
  EventMetadata m;
  m.correlation_id = parent.correlation_id.empty() ? cause.id.to_string() : parent.correlation_id;
  m.causation_id = cause.id.to_string();
  return m;
}

EventId derive_id(const EventId& base, std::string_view salt) {
  std::uint64_t a = fnv1a(0xcbf29ce484222325ull, base.data(), EventId::kSize);
  a = fnv1a(a, salt.data(), salt.size());
  std::uint64_t b = fnv1a(0x84222325cbf29ce4ull ^ a, salt.data(), salt.size());
  b = fnv1a(b, base.data(), EventId::kSize);
  const std::uint64_t hi = mix(a), lo = mix(b ^ hi);
  std::array<std::uint8_t, EventId::kSize> bytes{};
  for (int i = 0; i < 8; ++i) {
    bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(hi >> (56 - 8 * i));
    bytes[static_cast<std::size_t>(8 + i)] = static_cast<std::uint8_t>(lo >> (56 - 8 * i));
  }
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0f) | 0x80);  // version 8: custom
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return EventId(bytes);
}

void Upcasters::add(std::string type, int from_version, Upcaster f) {
  if (from_version < 1) throw std::invalid_argument("upcaster from_version must be >= 1");
  steps_[{std::move(type), from_version}] = std::move(f);
}

void Upcasters::apply(const std::string& type, int from, int to, Json& payload) const {
  for (int v = from; v < to; ++v) {
    auto it = steps_.find(std::make_pair(type, v));
    if (it == steps_.end())
      throw EventDecodeError("event " + type + " has schema version " + std::to_string(from) +
                             " and no upcaster is registered from version " + std::to_string(v));
    it->second(payload);
  }
}

}  // namespace even::client
