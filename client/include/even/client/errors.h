// The client's typed exceptions: "call a method, it works or throws". Each carries the client's
// own ErrorCode (the services' wire codes are mapped to it in client/src/errors.cpp).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace even::client {

// Why a call failed.
enum class ErrorCode {
  malformed,               // the service could not read the request (a bug, or another protocol)
  too_large,               // the request or one of its events is above the service's limit
  unsupported_version,     // the service does not speak this protocol version or request kind
  invalid_stream,          // stream name empty, too long or with forbidden characters
  invalid_event,           // bad event id, type, payload declared JSON that is not, empty append
  wrong_expected_version,  // the stream's version was not the expected one
  duplicate_event,         // event ids already stored elsewhere (not an idempotent retry)
  busy,                    // the service stayed saturated until the timeout
  unavailable,             // the service's store is unreachable, or the client is closing
  not_found,               // no such stream or projection stream
  bad_range,               // a read position the service refuses
  internal,                // the service failed in a way it did not expect
  timeout,                 // no answer within the call's timeout
};
// "wrongExpectedVersion", "timeout", ...: the services' names for the same codes.
const char* to_string(ErrorCode code);

// Base of everything the client throws for a failed call.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// The stream's version was not what the append expected. current_version() is -1 when the
// stream does not exist.
class WrongExpectedVersion : public Error {
 public:
  WrongExpectedVersion(const std::string& message, std::int64_t current)
      : Error(ErrorCode::wrong_expected_version, message), current_(current) {}
  std::int64_t current_version() const { return current_; }

 private:
  std::int64_t current_;
};

// The request was rejected as it stands (bad stream name, bad event, too large, malformed...);
// retrying the same request cannot succeed.
class InvalidRequest : public Error {
 public:
  using Error::Error;
};

// Event ids already stored at other positions (not an idempotent retry of the same append).
class DuplicateEvent : public Error {
 public:
  using Error::Error;
};

// No answer within the call's timeout (code() is ErrorCode::timeout). For appends the outcome is
// unknown: retrying the same append (same event ids) is safe.
class Timeout : public Error {
 public:
  explicit Timeout(const std::string& message) : Error(ErrorCode::timeout, message) {}
};

// The service or its store is unavailable or busy and stayed so until the timeout.
class Unavailable : public Error {
 public:
  using Error::Error;
};

class NotFound : public Error {
 public:
  using Error::Error;
};

}  // namespace even::client
