// Event types of an application: how typed C++ events become stored events and back.
//
//   struct Deposited {
//     static constexpr std::string_view kType = "Deposited";  // the stored event type
//     static constexpr int kSchemaVersion = 2;                 // optional, default 1
//     std::int64_t amount = 0;
//     std::string reference;                                   // new in version 2
//   };
//   NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Deposited, amount, reference)
//   using AccountEvent = std::variant<AccountOpened, Deposited, Withdrawn>;
//
//   EventTypes<AccountEvent> types;
//   types.upcast("Deposited", 1, [](Json& p) { p["reference"] = ""; });  // v1 -> v2
//   NewEvent n = types.encode(Deposited{5, "x"}, metadata, id);
//   AccountEvent e = types.decode(recorded);  // upcasts old versions first
//
// Payloads are JSON (nlohmann::json through the type's to_json / from_json). The payload's schema
// version and the correlation and causation ids travel in the event's metadata (EventMetadata,
// also JSON), so payloads stay the application's own. An upcaster turns a payload of version v
// into version v + 1 in place; decode chains them up to the type's current version, so an event
// written years ago still loads after its type changed. An event newer than the code (version
// above kSchemaVersion) or without an upcaster for some step cannot be decoded: EventDecodeError.
//
// EventTypes is immutable once set up (register upcasters before use); then any thread may use it.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "even/client/events.h"
#include "even/common/types.h"

namespace even::client {

using Json = nlohmann::json;

// The metadata Even's programming model writes with every event (a JSON object in the event's
// metadata field). Fields it does not know are kept in `extra`.
struct EventMetadata {
  // The conversation an event belongs to: the id of the first command of a chain, inherited by
  // every event, command and emitted event that follows from it.
  std::string correlation_id;
  // What directly caused this event: the command's id (for events of a command), or the id of
  // the event a projection or process manager reacted to.
  std::string causation_id;
  int schema_version = 1;  // of the payload
  Json extra = Json::object();

  std::string to_json() const;
  // Lenient: empty or non-JSON metadata gives the defaults (events written by other tools).
  static EventMetadata parse(std::string_view text);
  // For an event emitted in reaction to `cause`: same correlation id (the cause's own id when it
  // has none), causation id = the cause's event id.
  static EventMetadata caused_by(const RecordedEvent& cause);
};

// A stable id made from another id and a salt (a UUID version 8 from two 64-bit hashes): the
// i-th event of command C gets derive_id(C, "i"), so a retried command carries the same event
// ids and the writer stores its events once.
EventId derive_id(const EventId& base, std::string_view salt);

// An event could not be turned into its C++ type (unknown type, bad JSON, no upcaster, a schema
// version newer than the code). A bug or a deployment problem, not an expected outcome.
class EventDecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What an event struct provides: its stored type name.
template <typename T>
concept NamedEvent = requires {
  { T::kType } -> std::convertible_to<std::string_view>;
};

template <typename T>
constexpr int schema_version_of() {
  if constexpr (requires { T::kSchemaVersion; })
    return T::kSchemaVersion;
  else
    return 1;
}

// The upcasters of all event types; non-template part of EventTypes.
class Upcasters {
 public:
  using Upcaster = std::function<void(Json& payload)>;
  void add(std::string type, int from_version, Upcaster f);
  // Brings `payload` from version `from` to `to`; throws EventDecodeError when a step is missing.
  void apply(const std::string& type, int from, int to, Json& payload) const;

 private:
  std::map<std::pair<std::string, int>, Upcaster, std::less<>> steps_;
};

template <typename Variant>
class EventTypes;

// The event types of one variant. Each alternative must be a NamedEvent with JSON to_json /
// from_json; the names must differ.
template <NamedEvent... Ts>
class EventTypes<std::variant<Ts...>> {
 public:
  using Event = std::variant<Ts...>;
  using Upcaster = Upcasters::Upcaster;

  EventTypes() { (add_decoder<Ts>(), ...); }

  // Registers how a payload of `type` at schema version `from_version` becomes `from_version + 1`.
  EventTypes& upcast(std::string type, int from_version, Upcaster f) {
    upcasters_.add(std::move(type), from_version, std::move(f));
    return *this;
  }

  static std::string_view type_of(const Event& e) {
    return std::visit([](const auto& ev) { return std::string_view(std::decay_t<decltype(ev)>::kType); }, e);
  }
  bool knows(std::string_view type) const { return decoders_.find(type) != decoders_.end(); }

  // A NewEvent of `e` with the given id; the metadata gets the type's current schema version.
  NewEvent encode(const Event& e, EventMetadata metadata, EventId id) const {
    return std::visit(
        [&](const auto& ev) {
          using T = std::decay_t<decltype(ev)>;
          metadata.schema_version = schema_version_of<T>();
          NewEvent n;
          n.id = id;
          n.type = std::string(T::kType);
          n.payload = Json(ev).dump();
          n.metadata = metadata.to_json();
          n.format = PayloadFormat::json;
          return n;
        },
        e);
  }

  // The typed event of a stored one (upcast to the current schema version). Throws EventDecodeError.
  Event decode(const RecordedEvent& e) const {
    auto it = decoders_.find(std::string_view(e.type));
    if (it == decoders_.end()) throw EventDecodeError("unknown event type '" + e.type + "'");
    const auto& d = it->second;
    const int version = EventMetadata::parse(e.metadata).schema_version;
    try {
      Json payload = Json::parse(e.payload);
      if (version > d.version)
        throw EventDecodeError("event " + e.type + " has schema version " + std::to_string(version) +
                               ", newer than this program's " + std::to_string(d.version));
      if (version < d.version) upcasters_.apply(e.type, version, d.version, payload);
      return d.from_json(payload);
    } catch (const Json::exception& x) {
      throw EventDecodeError("cannot decode event " + e.type + " at " + e.stream + "/" +
                             std::to_string(e.stream_seq.value()) + ": " + x.what());
    }
  }

 private:
  struct Decoder {
    int version;
    Event (*from_json)(const Json&);
  };
  template <typename T>
  void add_decoder() {
    auto [_, fresh] = decoders_.emplace(std::string(T::kType),
                                        Decoder{schema_version_of<T>(), [](const Json& j) { return Event(j.get<T>()); }});
    if (!fresh) throw std::logic_error("event type '" + std::string(T::kType) + "' appears twice");
  }

  std::map<std::string, Decoder, std::less<>> decoders_;
  Upcasters upcasters_;
};

}  // namespace even::client
