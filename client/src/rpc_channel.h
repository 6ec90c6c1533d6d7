// RpcChannel: request/reply over a DEALER socket with timeouts and resends.
//
// Owns one I/O thread and the DEALER socket it alone uses. call() may be invoked from any
// thread; the returned future becomes ready with the reply frame, or with a Timeout/Unavailable
// exception. Requests are resent (same bytes, same request id) when no reply came within
// resend_after, so only idempotent requests may be sent through it (every Even request is).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <zmq.hpp>

#include "even/common/net.h"
#include "even/common/wire.h"

namespace even::client {

struct ChannelOptions {
  std::string endpoint;
  std::chrono::milliseconds timeout{15000};       // whole call, resends included
  std::chrono::milliseconds resend_after{3000};   // silence after which a request is sent again
  std::chrono::milliseconds busy_backoff{50};     // wait before retrying after a busy/unavailable reply
  wire::Limits limits;
  net::SocketOptions socket;
};

// What the channel needs to know of a reply: which request it answers, and whether it says
// "busy / unavailable, try again" (the channel then retries until the timeout).
struct ReplyInfo {
  std::uint64_t request_id = 0;
  bool retry = false;
  std::string message;  // with retry: the service's reason, named in the Timeout if it lasts
};

class RpcChannel {
 public:
  // Decodes a reply frame as the service's reply type, e.g. &wire::decode<schema::WriterReply>.
  using Decoder = std::variant<wire::Decoded, wire::DecodeError> (*)(zmq::message_t&&, const wire::Limits&);
  using Classifier = std::function<ReplyInfo(wire::Decoded&)>;

  // `decode` and `classify` are called on the I/O thread for each reply; classify must not throw.
  RpcChannel(zmq::context_t& ctx, ChannelOptions options, Decoder decode, Classifier classify);
  ~RpcChannel();
  RpcChannel(const RpcChannel&) = delete;
  RpcChannel& operator=(const RpcChannel&) = delete;

  // Called once per call on the I/O thread: with the reply, or with an exception (Timeout,
  // Unavailable). Must not block.
  using Completion = std::function<void(wire::Decoded* reply, std::exception_ptr error)>;

  std::uint64_t next_request_id();
  // Read-your-writes: the largest global position this client's appends got. The reader
  // channel's requests carry it (ReaderRequest.minGlobalSeq), so that a reader on a replica never
  // answers with less than the client wrote. Any thread.
  void raise_min_global_seq(std::uint64_t seq) {
    auto cur = min_global_seq_.load(std::memory_order_relaxed);
    while (cur < seq && !min_global_seq_.compare_exchange_weak(cur, seq, std::memory_order_relaxed)) {
    }
  }
  std::uint64_t min_global_seq() const { return min_global_seq_.load(std::memory_order_relaxed); }
  // Sends `request` (an encoded frame whose request id is `request_id`). Thread-safe.
  // A zero timeout means options().timeout.
  void call(std::uint64_t request_id, zmq::message_t request, Completion done,
            std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  // call() for a reply converted by `convert` (which may throw to fail the future).
  template <typename T, typename Convert>
  std::future<T> call_future(std::uint64_t request_id, zmq::message_t request, Convert convert,
                             std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    auto promise = std::make_shared<std::promise<T>>();
    auto fut = promise->get_future();
    call(
        request_id, std::move(request),
        [promise, convert](wire::Decoded* reply, std::exception_ptr error) {
          if (error) return promise->set_exception(error);
          try {
            promise->set_value(convert(*reply));
          } catch (...) {
            promise->set_exception(std::current_exception());
          }
        },
        timeout);
    return fut;
  }
  const ChannelOptions& options() const { return options_; }

 private:
  std::atomic<std::uint64_t> min_global_seq_{0};
  struct Call {
    std::uint64_t id = 0;
    zmq::message_t bytes;  // kept for resends
    Completion done;
    net::Clock::time_point deadline;
    net::Clock::time_point next_send;  // when to (re)send; time_point::min() = now
    bool sent = false;
    std::string retried_because;  // the last busy/unavailable reply's message, if any
  };

  void run();

  ChannelOptions options_;
  Decoder decode_;
  Classifier classify_;
  zmq::context_t& ctx_;
  net::Wakeup wakeup_;
  std::mutex mu_;
  std::deque<Call> outbox_;  // guarded by mu_
  bool stop_ = false;        // guarded by mu_
  std::uint64_t next_id_ = 1;  // guarded by mu_
  std::unordered_map<std::uint64_t, Call> in_flight_;  // I/O thread only
  std::thread thread_;
};

}  // namespace even::client
