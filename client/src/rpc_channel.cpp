#include "rpc_channel.h"

#include <algorithm>

#include "even/client/errors.h"

namespace even::client {

RpcChannel::RpcChannel(zmq::context_t& ctx, ChannelOptions options, Decoder decode, Classifier classify)
    : options_(std::move(options)), decode_(decode), classify_(std::move(classify)), ctx_(ctx) {
  thread_ = std::thread([this] { run(); });
}

RpcChannel::~RpcChannel() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wakeup_.notify();
  thread_.join();
}

std::uint64_t RpcChannel::next_request_id() {
  std::lock_guard lock(mu_);
  return next_id_++;
}

void RpcChannel::call(std::uint64_t request_id, zmq::message_t request, Completion done,
                      std::chrono::milliseconds timeout) {
  Call c;
  c.done = std::move(done);
  c.id = request_id;
  c.bytes = std::move(request);
  c.deadline = net::Clock::now() + (timeout.count() > 0 ? timeout : options_.timeout);
  c.next_send = net::Clock::time_point::min();
  bool was_empty;
  {
    std::lock_guard lock(mu_);
    if (stop_) throw Unavailable(ErrorCode::unavailable, "client is shutting down");
    was_empty = outbox_.empty();
    outbox_.push_back(std::move(c));
  }
  // The I/O thread takes the whole outbox after every wake-up (drain, then swap), so a non-empty
  // outbox already has a wake-up pending: one notification per burst of calls is enough.
  if (was_empty) wakeup_.notify();
}

void RpcChannel::run() {
  zmq::socket_t dealer(ctx_, zmq::socket_type::dealer);
  auto so = options_.socket;
  so.immediate = true;  // do not queue requests on a connection that is not up: resend them later
  so.max_msg_bytes = static_cast<std::int64_t>(options_.limits.max_message_bytes) * 2;
  net::configure(dealer, so);
  dealer.connect(options_.endpoint);

  auto send = [&](Call& c) {
    // The request is kept for resends: the frame sent shares its bytes (zmq_msg_copy counts a
    // reference; only frames of up to 33 bytes are copied).
    zmq::message_t copy;
    copy.copy(c.bytes);
    if (dealer.send(copy, zmq::send_flags::dontwait)) {
      c.sent = true;
      c.next_send = net::Clock::now() + options_.resend_after;
    } else {
      c.next_send = net::Clock::now() + std::chrono::milliseconds(10);  // not connected / HWM: try again soon
    }
  };

  for (;;) {
    std::deque<Call> incoming;
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
      incoming.swap(outbox_);
    }
    for (auto& c : incoming) {
      auto id = c.id;
      auto [it, _] = in_flight_.insert_or_assign(id, std::move(c));
      send(it->second);
    }

    // Timers: deadlines and resends.
    auto now = net::Clock::now();
    auto next_wake = now + std::chrono::milliseconds(1000);
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      auto& c = it->second;
      if (now >= c.deadline) {
        c.done(nullptr, std::make_exception_ptr(
            Timeout("no reply from " + options_.endpoint + " within " +
                    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout).count()) +
                    " ms (request " + std::to_string(c.id) + (c.sent ? "" : ", never sent: not connected") +
                    (c.retried_because.empty() ? "" : "; the last reply said: " + c.retried_because) + ")")));
        it = in_flight_.erase(it);
        continue;
      }
      if (now >= c.next_send) send(c);
      next_wake = std::min({next_wake, c.deadline, c.next_send});
      ++it;
    }

    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_wake - net::Clock::now());
    zmq::pollitem_t items[] = {{dealer.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, wakeup_.fd(), ZMQ_POLLIN, 0}};
    net::poll(items, 2, std::max(wait, std::chrono::milliseconds(0)));
    if (items[1].revents & ZMQ_POLLIN) wakeup_.drain();
    if (!(items[0].revents & ZMQ_POLLIN)) continue;

    for (;;) {
      zmq::message_t frame;
      if (!dealer.recv(frame, zmq::recv_flags::dontwait)) break;
      while (frame.more()) {  // tolerate a multi-frame reply: the message is the last frame
        zmq::message_t next;
        if (!dealer.recv(next, zmq::recv_flags::dontwait)) break;
        frame = std::move(next);
      }
      auto decoded = decode_(std::move(frame), options_.limits);
      auto* d = std::get_if<wire::Decoded>(&decoded);
      if (!d) continue;  // a malformed reply answers nothing; the call resends or times out
      auto info = classify_(*d);
      auto it = in_flight_.find(info.request_id);
      if (it == in_flight_.end()) continue;  // late reply to a resent or timed-out request
      if (info.retry) {
        it->second.next_send = net::Clock::now() + options_.busy_backoff;
        it->second.retried_because = std::move(info.message);
        continue;
      }
      it->second.done(d, nullptr);
      in_flight_.erase(it);
    }
  }
  for (auto& [id, c] : in_flight_)
    c.done(nullptr, std::make_exception_ptr(Unavailable(ErrorCode::unavailable, "client closed")));
  in_flight_.clear();
  std::lock_guard lock(mu_);
  for (auto& c : outbox_)
    c.done(nullptr, std::make_exception_ptr(Unavailable(ErrorCode::unavailable, "client closed")));
}

}  // namespace even::client
