#include "even/client/errors.h"

#include "even/common/wire.h"

namespace even::client {

void throw_error(schema::ErrorCode code, const std::string& message, std::int64_t current_version) {
  using EC = schema::ErrorCode;
  std::string text = wire::to_string(code) + ": " + message;
  switch (code) {
    case EC::WRONG_EXPECTED_VERSION: throw WrongExpectedVersion(text, current_version);
    case EC::DUPLICATE_EVENT: throw DuplicateEvent(code, text);
    case EC::NOT_FOUND: throw NotFound(code, text);
    case EC::BUSY:
    case EC::UNAVAILABLE:
    case EC::INTERNAL: throw Unavailable(code, text);
    default: throw InvalidRequest(code, text);
  }
}

}  // namespace even::client
