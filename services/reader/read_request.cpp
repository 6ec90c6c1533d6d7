#include "reader/read_request.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "even/common/wire.h"

namespace even::reader {

using EC = schema::ErrorCode;

std::optional<Refusal> check_stream(const std::string& stream) {
  if (auto why = validate_stream_name(stream); !why.empty()) return Refusal{EC::INVALID_STREAM, why};
  return std::nullopt;
}

std::variant<StreamPageQuery, Refusal> stream_query(schema::ReadStream::Reader r) {
  StreamPageQuery q{wire::text_string(r.getStream()), StreamSeq(r.getFrom()),
                    r.getDirection() == schema::Direction::BACKWARD};
  if (auto refused = check_stream(q.stream)) return std::move(*refused);
  if (r.getDirection() != schema::Direction::FORWARD && r.getDirection() != schema::Direction::BACKWARD)
    return Refusal{EC::UNSUPPORTED_VERSION, "unknown read direction"};
  if (q.from.value() < 0) return Refusal{EC::BAD_RANGE, "a stream read starts at a sequence >= 0"};
  return q;
}

std::variant<AllPageQuery, Refusal> all_query(schema::ReadAll::Reader r, std::size_t max_filter_values) {
  AllPageQuery q;
  q.from = GlobalSeq(r.getFrom());
  if (r.getCategories().size() > max_filter_values || r.getEventTypes().size() > max_filter_values)
    return Refusal{EC::TOO_LARGE, "a read may filter by at most " + std::to_string(max_filter_values) +
                                      " categories and as many event types"};
  for (auto c : r.getCategories()) {
    std::string category = wire::text_string(c);
    if (auto refused = check_stream(category)) return std::move(*refused);
    if (category.find('-') != std::string::npos)
      return Refusal{EC::INVALID_STREAM, "category '" + category + "' has a '-' (a category is the part of a "
                                         "stream name before its first '-')"};
    q.categories.push_back(std::move(category));
  }
  for (auto t : r.getEventTypes()) {
    std::string type = wire::text_string(t);
    if (auto why = validate_event_type(type); !why.empty()) return Refusal{EC::INVALID_EVENT, why};
    q.event_types.push_back(std::move(type));
  }
  // Duplicates would return an event twice from the merged index ranges.
  for (auto* list : {&q.categories, &q.event_types}) {
    std::sort(list->begin(), list->end());
    list->erase(std::unique(list->begin(), list->end()), list->end());
  }
  return q;
}

std::variant<ProjectionPageQuery, Refusal> projection_query(schema::ReadProjection::Reader r) {
  ProjectionPageQuery q{wire::text_string(r.getName()), ProjectionSeq(r.getFrom())};
  if (q.name.empty() || q.name.size() > 190)
    return Refusal{EC::INVALID_STREAM, "a projection stream name has 1..190 bytes"};
  if (q.from.value() < 1) return Refusal{EC::BAD_RANGE, "projection sequences start at 1"};
  return q;
}

RequestHead peek_request(const void* data, std::size_t size) {
  RequestHead head;
  if (size < 8 || size % 8 != 0) return head;
  // The frame's words, copied only when unaligned (requests are small).
  std::unique_ptr<capnp::word[]> copy;
  const capnp::word* words = static_cast<const capnp::word*>(data);
  if (reinterpret_cast<std::uintptr_t>(data) % alignof(capnp::word) != 0) {
    copy = std::make_unique<capnp::word[]>(size / 8);
    std::memcpy(copy.get(), data, size);
    words = copy.get();
  }
  try {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = 1 << 16;
    capnp::FlatArrayMessageReader reader(kj::arrayPtr(words, size / 8), options);
    const auto root = reader.getRoot<schema::ReaderRequest>();
    const auto which = static_cast<int>(root.which());
    head.request_id = root.getRequestId();
    head.kind = which >= 0 && which < 5 ? which : -1;
  } catch (const kj::Exception&) {
    head = RequestHead{};
  }
  return head;
}

zmq::message_t encode_error(std::uint64_t request_id, EC code, const std::string& message) {
  capnp::MallocMessageBuilder msg(128);
  auto r = msg.initRoot<schema::ReaderReply>();
  r.setRequestId(request_id);
  auto e = r.initError();
  e.setCode(code);
  e.setMessage(message);
  return wire::encode(msg);
}

}  // namespace even::reader
