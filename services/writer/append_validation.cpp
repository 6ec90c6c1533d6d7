#include "writer/append_validation.h"

#include <optional>
#include <unordered_set>

#include "even/common/wire.h"
#include "writer/writer_service.h"

namespace even::writer {

namespace {

// The stream name and expected version every request kind carries; nullopt when both are valid.
std::optional<Rejection> read_target(capnp::Text::Reader stream, schema::ExpectedVersion::Reader ex,
                                     AppendCommand& cmd) {
  using EC = schema::ErrorCode;
  cmd.stream = wire::text_string(stream);
  if (auto why = validate_stream_name(cmd.stream); !why.empty()) return Rejection{EC::INVALID_STREAM, why};
  switch (ex.which()) {
    case schema::ExpectedVersion::ANY: cmd.expected = ExpectedVersion::any(); break;
    case schema::ExpectedVersion::NO_STREAM: cmd.expected = ExpectedVersion::no_stream(); break;
    case schema::ExpectedVersion::EXISTS: cmd.expected = ExpectedVersion::exists(); break;
    case schema::ExpectedVersion::EXACT:
      if (ex.getExact() < 1)
        return Rejection{EC::INVALID_EVENT, "expected version must be >= 1 (use noStream for a new stream)"};
      cmd.expected = ExpectedVersion::exact(ex.getExact());
      break;
    default: return Rejection{EC::UNSUPPORTED_VERSION, "unknown kind of expected version"};
  }
  return std::nullopt;
}

}  // namespace

std::variant<AppendCommand, Rejection> validate_change(schema::WriterRequest::Reader req) {
  using EC = schema::ErrorCode;
  AppendCommand cmd;
  StreamChange ch;
  std::optional<Rejection> bad;
  switch (req.which()) {
    case schema::WriterRequest::DELETE_STREAM: {
      auto r = req.getDeleteStream();
      bad = read_target(r.getStream(), r.getExpected(), cmd);
      ch.kind = r.getHard() ? StreamChange::Kind::hard_delete : StreamChange::Kind::soft_delete;
      break;
    }
    case schema::WriterRequest::TRUNCATE_STREAM: {
      auto r = req.getTruncateStream();
      bad = read_target(r.getStream(), r.getExpected(), cmd);
      ch.kind = StreamChange::Kind::truncate;
      ch.truncate_before = r.getBefore();
      if (!bad && ch.truncate_before < 1)
        bad = Rejection{EC::BAD_RANGE, "truncate before " + std::to_string(ch.truncate_before) +
                                           ": the first stream sequence to keep must be >= 1"};
      break;
    }
    case schema::WriterRequest::SET_STREAM_METADATA: {
      auto r = req.getSetStreamMetadata();
      bad = read_target(r.getStream(), r.getExpected(), cmd);
      ch.kind = StreamChange::Kind::set_metadata;
      ch.max_count = r.getMaxCount();
      ch.max_age_us = r.getMaxAgeUs();
      if (!bad && (ch.max_count < 0 || ch.max_age_us < 0))
        bad = Rejection{EC::BAD_RANGE, "max-count " + std::to_string(ch.max_count) + " / max-age " +
                                           std::to_string(ch.max_age_us) + " us: must be >= 0 (0: no limit)"};
      break;
    }
    default: return Rejection{EC::UNSUPPORTED_VERSION, "not a stream lifecycle request"};
  }
  if (bad) return *bad;
  cmd.change = ch;
  return cmd;
}

// Turns a decoded AppendRequest into an AppendCommand, or says why it is invalid. Changes nothing.
std::variant<AppendCommand, Rejection> validate_append(schema::AppendRequest::Reader req, const WriterOptions& o) {
  using EC = schema::ErrorCode;
  AppendCommand cmd;
  if (auto bad = read_target(req.getStream(), req.getExpected(), cmd)) return *bad;
  auto events = req.getEvents();
  if (events.size() == 0) return Rejection{EC::INVALID_EVENT, "an append needs at least one event"};
  if (events.size() > o.max_events_per_append)
    return Rejection{EC::TOO_LARGE, "an append may carry at most " + std::to_string(o.max_events_per_append) +
                                        " events, this one has " + std::to_string(events.size())};
  std::unordered_set<EventId, EventIdHash> ids;
  cmd.events.reserve(events.size());
  for (auto e : events) {
    auto id = e.getEventId();
    auto parsed = EventId::from_bytes(id.begin(), id.size());
    if (!parsed)
      return Rejection{EC::INVALID_EVENT, "event id must be 16 bytes, got " + std::to_string(id.size())};
    if (!ids.insert(*parsed).second)
      return Rejection{EC::INVALID_EVENT, "event id " + parsed->to_string() + " appears twice in one append"};
    if (auto why = validate_event_type(wire::text_view(e.getType())); !why.empty())
      return Rejection{EC::INVALID_EVENT, why};
    auto md = e.getMetadata();
    if (md.size() > o.max_metadata_bytes)
      return Rejection{EC::TOO_LARGE, "event metadata is " + std::to_string(md.size()) + " bytes, the limit is " +
                                          std::to_string(o.max_metadata_bytes)};
    if (!wire::payload_format(e.getPayloadFormat()))
      return Rejection{EC::UNSUPPORTED_VERSION, "unknown payload format"};
    cmd.events.push_back(wire::decode(e));  // the one copy of the payload out of the request
  }
  return cmd;
}

}  // namespace even::writer
