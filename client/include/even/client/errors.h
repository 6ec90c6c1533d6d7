// The client's typed exceptions: "call a method, it works or throws".
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "even/schemas/common.capnp.h"

namespace even::client {

// Base of everything the client throws for a failed call. code() is the service's error code
// (or UNAVAILABLE / BUSY for client-side timeouts and connection trouble).
class Error : public std::runtime_error {
 public:
  Error(schema::ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  schema::ErrorCode code() const { return code_; }

 private:
  schema::ErrorCode code_;
};

// The stream's version was not what the append expected. current_version() is -1 when the
// stream does not exist.
class WrongExpectedVersion : public Error {
 public:
  WrongExpectedVersion(const std::string& message, std::int64_t current)
      : Error(schema::ErrorCode::WRONG_EXPECTED_VERSION, message), current_(current) {}
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

// No answer within the call's timeout. For appends the outcome is unknown: retrying the same
// append (same event ids) is safe.
class Timeout : public Error {
 public:
  explicit Timeout(const std::string& message) : Error(schema::ErrorCode::UNAVAILABLE, message) {}
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

// Throws the exception matching a service error.
[[noreturn]] void throw_error(schema::ErrorCode code, const std::string& message, std::int64_t current_version = -1);

}  // namespace even::client
