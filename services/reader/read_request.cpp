#include "reader/read_request.h"

#include <algorithm>

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

}  // namespace even::reader
