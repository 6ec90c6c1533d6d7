#include "even/common/types.h"

#include <charconv>
#include <chrono>
#include <cstring>
#include <random>

namespace even {

EventId EventId::random() {
  thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }()};
  // UUIDv7 (RFC 9562): 48-bit big-endian Unix milliseconds, then random bits. Ids made close in
  // time sit close together in ux_events_event_id, so that index grows at its end like the others
  // instead of taking inserts at random pages once the table outgrows the buffer pool.
  const auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::array<std::uint8_t, kSize> b{};
  std::uint64_t hi = rng(), lo = rng();
  std::memcpy(b.data(), &hi, 8);
  std::memcpy(b.data() + 8, &lo, 8);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x70);  // version 7
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);  // RFC 9562 variant
  return EventId(b);
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<EventId> EventId::parse(std::string_view text) {
  std::array<std::uint8_t, kSize> b{};
  std::size_t n = 0;
  int hi = -1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '-' && (i == 8 || i == 13 || i == 18 || i == 23) && text.size() == 36) continue;
    int v = hex_value(c);
    if (v < 0 || n >= kSize) return std::nullopt;
    if (hi < 0) {
      hi = v;
    } else {
      b[n++] = static_cast<std::uint8_t>(hi << 4 | v);
      hi = -1;
    }
  }
  if (n != kSize || hi >= 0) return std::nullopt;
  return EventId(b);
}

std::optional<EventId> EventId::from_bytes(const void* data, std::size_t size) {
  if (size != kSize) return std::nullopt;
  std::array<std::uint8_t, kSize> b{};
  std::memcpy(b.data(), data, kSize);
  return EventId(b);
}

std::string EventId::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (std::size_t i = 0; i < kSize; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[bytes_[i] >> 4]);
    s.push_back(kHex[bytes_[i] & 0xF]);
  }
  return s;
}

std::size_t EventIdHash::operator()(const EventId& id) const noexcept {
  std::uint64_t a, b;
  std::memcpy(&a, id.data(), 8);
  std::memcpy(&b, id.data() + 8, 8);
  return static_cast<std::size_t>(a ^ (b * 0x9E3779B97F4A7C15ull));
}

std::optional<ExpectedVersion> ExpectedVersion::parse(std::string_view text) {
  if (text == "any") return any();
  if (text == "no-stream") return no_stream();
  if (text == "exists") return exists();
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 1) return std::nullopt;
  return exact(v);
}

std::string ExpectedVersion::to_string() const {
  switch (kind) {
    case Kind::any: return "any";
    case Kind::no_stream: return "no-stream";
    case Kind::exists: return "exists";
    case Kind::exact: return std::to_string(version);
  }
  return "?";
}

std::string validate_stream_name(std::string_view s) {
  if (s.empty()) return "stream name is empty";
  if (s.size() > kMaxStreamNameBytes)
    return "stream name is " + std::to_string(s.size()) + " bytes, the limit is " +
           std::to_string(kMaxStreamNameBytes);
  if (s.front() == '$') return "stream names starting with '$' are reserved";
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::strchr("_.:@$+=-", c) != nullptr;
    if (!ok || c == '\0')
      return "stream name has a forbidden character (allowed: letters, digits and _ . : @ $ + = -)";
  }
  return {};
}

std::string validate_event_type(std::string_view t) {
  if (t.empty()) return "event type is empty";
  if (t.size() > kMaxEventTypeBytes) return "event type is longer than " + std::to_string(kMaxEventTypeBytes) + " bytes";
  if (!((t.front() >= 'a' && t.front() <= 'z') || (t.front() >= 'A' && t.front() <= 'Z')))
    return "event type must start with a letter";
  for (char c : t) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == ':' || c == '-';
    if (!ok) return "event type has a forbidden character (allowed: letters, digits and _ . : -)";
  }
  return {};
}

std::string_view category_of(std::string_view stream) {
  auto dash = stream.find('-');
  return dash == std::string_view::npos ? stream : stream.substr(0, dash);
}

std::int64_t unix_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace even
