// The Even client library: what an application links to append events (and, as the services
// grow, to read and subscribe). Every call works or throws one of even/client/errors.h.
//
// A Client owns a ZeroMQ context and one RpcChannel (I/O thread + DEALER) per service it talks
// to. It is thread-safe: any number of threads may call it at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "even/client/errors.h"
#include "even/common/types.h"

namespace even::client {

enum class PayloadFormat { binary, json };

// An event to append. The id is made here (a random UUID) unless the caller sets one: keep it
// when retrying, so that the retry is recognised as the same append.
struct NewEvent {
  EventId id = EventId::random();
  std::string type;
  std::string payload;
  std::string metadata;
  PayloadFormat format = PayloadFormat::json;
};

struct AppendResult {
  StreamSeq first_stream_seq;
  StreamSeq last_stream_seq;  // the stream's version after the append
  GlobalSeq first_global_seq;
  GlobalSeq last_global_seq;
  bool idempotent = false;    // the events were already stored (a retry); positions are the original ones
};

struct ClientOptions {
  std::string writer_endpoint = "tcp://127.0.0.1:5550";
  std::chrono::milliseconds timeout{15000};      // per call, retries included
  std::chrono::milliseconds resend_after{3000};  // resend a request that got no answer (safe: idempotent)
  std::size_t max_message_bytes = 16u << 20;
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Appends `events` to `stream` if its version matches `expected`. Returns their positions.
  // Throws WrongExpectedVersion, DuplicateEvent, InvalidRequest, Timeout or Unavailable.
  AppendResult append(const std::string& stream, ExpectedVersion expected, const std::vector<NewEvent>& events);
  // The same, without waiting: the future yields the result or throws as append() would.
  std::future<AppendResult> append_async(const std::string& stream, ExpectedVersion expected,
                                         const std::vector<NewEvent>& events);
  // Round trip to the writer; throws Timeout when it does not answer.
  void ping_writer(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace even::client
