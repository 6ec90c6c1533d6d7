// Core value types of Even: strong position types, event ids, expected versions and the
// naming rules for streams and event types. Header-only, no I/O.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace even {

// A value of T that does not mix with other NamedTypes of the same T (redpanda's named_type).
template <typename T, typename Tag>
class NamedType {
 public:
  using value_type = T;
  constexpr NamedType() = default;
  constexpr explicit NamedType(T v) : v_(v) {}
  constexpr T value() const { return v_; }
  constexpr auto operator<=>(const NamedType&) const = default;
  constexpr NamedType next() const { return NamedType(v_ + 1); }

 private:
  T v_{};
};

// Position in the global order of all events (the events table's AUTO_INCREMENT). Starts at 1;
// 0 means "before the first event". May have holes, never reorders.
using GlobalSeq = NamedType<std::uint64_t, struct GlobalSeqTag>;
// Position of an event within its stream: 1, 2, 3 ... without holes. A stream's version is the
// stream sequence of its last event.
using StreamSeq = NamedType<std::int64_t, struct StreamSeqTag>;
// Position within a projection stream: 1, 2, 3 ... without holes.
using ProjectionSeq = NamedType<std::int64_t, struct ProjectionSeqTag>;

// A client-made 128-bit event id (UUID bytes). The idempotency key of appends.
class EventId {
 public:
  static constexpr std::size_t kSize = 16;
  EventId() = default;
  explicit EventId(const std::array<std::uint8_t, kSize>& b) : bytes_(b) {}

  // A new id: a UUIDv7 (Unix milliseconds, then 74 random bits), time-ordered. Thread-safe.
  static EventId random();
  // Parses 32 hex digits, with or without the four dashes of the UUID form.
  static std::optional<EventId> parse(std::string_view text);
  // From raw bytes; nullopt unless exactly 16 bytes.
  static std::optional<EventId> from_bytes(const void* data, std::size_t size);

  std::string to_string() const;  // canonical 8-4-4-4-12 lowercase UUID form
  const std::array<std::uint8_t, kSize>& bytes() const { return bytes_; }
  const std::uint8_t* data() const { return bytes_.data(); }
  auto operator<=>(const EventId&) const = default;

 private:
  std::array<std::uint8_t, kSize> bytes_{};
};

struct EventIdHash {
  std::size_t operator()(const EventId& id) const noexcept;
};

// What an append expects of the stream's current version. A stream's version is the stream
// sequence of its last event, so an existing stream is at version >= 1; "no stream yet" is
// no_stream(), never exact(0) (the writer refuses exact(0) as it refuses any version < 1, and
// writer.capnp's `exact` says the same).
struct ExpectedVersion {
  enum class Kind { any, no_stream, exists, exact };
  Kind kind = Kind::any;
  std::int64_t version = 0;  // only for Kind::exact; >= 1

  static ExpectedVersion any() { return {Kind::any, 0}; }
  static ExpectedVersion no_stream() { return {Kind::no_stream, 0}; }
  static ExpectedVersion exists() { return {Kind::exists, 0}; }
  static ExpectedVersion exact(std::int64_t v) { return {Kind::exact, v}; }
  // "any", "no-stream", "exists" or a version >= 1; nullopt otherwise ("0" included: no-stream
  // is spelled "no-stream").
  static std::optional<ExpectedVersion> parse(std::string_view text);
  std::string to_string() const;
  bool operator==(const ExpectedVersion&) const = default;
};

// Naming rules, shared by every service and the client.
inline constexpr std::size_t kMaxStreamNameBytes = 200;
inline constexpr std::size_t kMaxEventTypeBytes = 200;

// Empty when valid, otherwise why not. Stream names are 1..200 bytes of [A-Za-z0-9 _ . : @ $ + = -],
// not starting with '$' (reserved for system streams).
std::string validate_stream_name(std::string_view stream);
// Event types are 1..200 bytes of [A-Za-z0-9 _ . : -] starting with a letter.
std::string validate_event_type(std::string_view type);
// The category of a stream: the part before the first '-' ("account-42" -> "account"); the whole
// name when it has no '-'.
std::string_view category_of(std::string_view stream);

// Now, in microseconds since the Unix epoch: what the store's *_at_us columns hold.
std::int64_t unix_now_us();

}  // namespace even
