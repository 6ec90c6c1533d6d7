// The client's error codes, and the services' wire codes mapped to them.
#include "even/client/errors.h"

#include "client_impl.h"

namespace even::client {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::malformed: return "malformed";
    case ErrorCode::too_large: return "tooLarge";
    case ErrorCode::unsupported_version: return "unsupportedVersion";
    case ErrorCode::invalid_stream: return "invalidStream";
    case ErrorCode::invalid_event: return "invalidEvent";
    case ErrorCode::wrong_expected_version: return "wrongExpectedVersion";
    case ErrorCode::duplicate_event: return "duplicateEvent";
    case ErrorCode::busy: return "busy";
    case ErrorCode::unavailable: return "unavailable";
    case ErrorCode::not_found: return "notFound";
    case ErrorCode::bad_range: return "badRange";
    case ErrorCode::internal: return "internal";
    case ErrorCode::timeout: return "timeout";
  }
  return "?";
}

ErrorCode to_client(schema::ErrorCode code) {
  using EC = schema::ErrorCode;
  switch (code) {
    case EC::MALFORMED: return ErrorCode::malformed;
    case EC::TOO_LARGE: return ErrorCode::too_large;
    case EC::UNSUPPORTED_VERSION: return ErrorCode::unsupported_version;
    case EC::INVALID_STREAM: return ErrorCode::invalid_stream;
    case EC::INVALID_EVENT: return ErrorCode::invalid_event;
    case EC::WRONG_EXPECTED_VERSION: return ErrorCode::wrong_expected_version;
    case EC::DUPLICATE_EVENT: return ErrorCode::duplicate_event;
    case EC::BUSY: return ErrorCode::busy;
    case EC::UNAVAILABLE: return ErrorCode::unavailable;
    case EC::NOT_FOUND: return ErrorCode::not_found;
    case EC::BAD_RANGE: return ErrorCode::bad_range;
    case EC::NONE:  // an error reply without a code: the service's bug
    case EC::INTERNAL: return ErrorCode::internal;
  }
  return ErrorCode::internal;  // a code from a newer service
}

void throw_error(schema::ErrorCode wire_code, const std::string& message, std::int64_t current_version) {
  const ErrorCode code = to_client(wire_code);
  std::string text = wire::to_string(wire_code) + ": " + message;
  switch (code) {
    case ErrorCode::wrong_expected_version: throw WrongExpectedVersion(text, current_version);
    case ErrorCode::duplicate_event: throw DuplicateEvent(code, text);
    case ErrorCode::not_found: throw NotFound(code, text);
    case ErrorCode::busy:
    case ErrorCode::unavailable:
    case ErrorCode::internal: throw Unavailable(code, text);
    default: throw InvalidRequest(code, text);
  }
}

}  // namespace even::client
