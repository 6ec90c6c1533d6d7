#include "even/client/subscription.h"

#include <algorithm>
#include <optional>
#include <zmq.hpp>

#include "client_impl.h"
#include "even/client/client.h"
#include "even/common/store/events.h"
#include "even/common/wire.h"
#include "even/schemas/feed.capnp.h"

namespace even::client {

RecordedEvent to_client(schema::RecordedEvent::Reader in) {
  auto e = store::from_wire(in);
  RecordedEvent out;
  out.global_seq = e.global_seq;
  out.id = e.event_id;
  out.stream = std::move(e.stream);
  out.stream_seq = e.stream_seq;
  out.type = std::move(e.type);
  out.created_at_us = e.created_at_us;
  out.metadata = std::move(e.metadata);
  out.payload = std::move(e.payload);
  out.format = e.payload_format == schema::PayloadFormat::JSON ? PayloadFormat::json : PayloadFormat::binary;
  return out;
}

namespace {

constexpr const char* kHeartbeatTopic = "hb|";  // services/dispatcher/feed_publisher.h

}  // namespace

std::unique_ptr<CatchUpSubscription> Client::subscribe(GlobalSeq from, const Filter& filter,
                                                       CatchUpSubscription::Handler handler,
                                                       SubscriptionOptions options) {
  return std::make_unique<CatchUpSubscription>(*this, from, filter, std::move(handler), options);
}

CatchUpSubscription::CatchUpSubscription(Client& client, GlobalSeq from, Filter filter, Handler handler,
                                         SubscriptionOptions options)
    : client_(client),
      filter_(std::move(filter)),
      handler_(std::move(handler)),
      options_(options),
      position_(from.value() > 0 ? from.value() - 1 : 0) {
  thread_ = std::thread(&CatchUpSubscription::run, this);
}

CatchUpSubscription::~CatchUpSubscription() { stop(); }

void CatchUpSubscription::stop() {
  stop_ = true;
  wakeup_.notify();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

std::exception_ptr CatchUpSubscription::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

SubscriptionStats CatchUpSubscription::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool CatchUpSubscription::matches(const RecordedEvent& e) const {
  if (!filter_.categories.empty()) {
    auto c = category_of(e.stream);
    if (std::find(filter_.categories.begin(), filter_.categories.end(), c) == filter_.categories.end()) return false;
  }
  if (!filter_.event_types.empty() &&
      std::find(filter_.event_types.begin(), filter_.event_types.end(), e.type) == filter_.event_types.end())
    return false;
  return true;
}

void CatchUpSubscription::handle(const RecordedEvent& e) {
  handler_(e);  // may throw: run() stops the subscription
  position_ = e.global_seq.value();
  std::lock_guard lock(mu_);
  ++stats_.handled;
}

bool CatchUpSubscription::catch_up(std::uint64_t upto) {
  {
    std::lock_guard lock(mu_);
    ++stats_.catch_ups;
  }
  while (!stop_ && position_.load() < upto) {
    try {
      // Lazily paged: the next page is fetched while the handler works through this one, so a
      // slow handler slows the reads. Stops at `upto`; later events come from the feed.
      auto events = client_.read_all(GlobalSeq(position_.load() + 1), filter_);
      for (const auto& e : events) {
        if (stop_) return false;
        if (e.global_seq.value() > upto) break;
        handle(e);
        std::lock_guard lock(mu_);
        ++stats_.from_history;
      }
      // Everything matching up to `upto` is handled: the dispatcher published up to there, so
      // every id <= upto is committed or a proven hole.
      position_ = std::max(position_.load(), upto);
    } catch (const Error&) {
      // Reader unavailable or timing out: try again from where we are.
      zmq::pollitem_t items[] = {{nullptr, wakeup_.fd(), ZMQ_POLLIN, 0}};
      net::poll(items, 1, options_.retry_after);
    }
  }
  return !stop_;
}

void CatchUpSubscription::run() {
  const bool by_category = filter_.categories.size() == 1;
  const std::string event_topic = by_category ? "ev|" + filter_.categories.front() + "|" : std::string("ev|");
  auto& ctx = client_.impl().ctx;
  wire::Limits limits;
  limits.max_message_bytes = client_.options().max_message_bytes;

  auto connect = [&] {
    auto sub = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::sub);
    net::SocketOptions so;
    so.recv_hwm = options_.receive_hwm;
    so.heartbeat_ivl_ms = 0;  // the feed's own heartbeats tell liveness
    so.max_msg_bytes = static_cast<std::int64_t>(limits.max_message_bytes) * 2;
    net::configure(*sub, so);
    sub->set(zmq::sockopt::subscribe, event_topic);
    sub->set(zmq::sockopt::subscribe, kHeartbeatTopic);
    sub->connect(client_.options().feed_endpoint);
    return sub;
  };

  try {
    auto sub = connect();
    // Heartbeat continuity, for category subscriptions (schemas/README.md, "Feed").
    std::uint64_t hb_epoch = 0, hb_seq = 0;
    auto last_message = net::Clock::now();
    while (!stop_) {
      zmq::pollitem_t items[] = {{sub->handle(), 0, ZMQ_POLLIN, 0}, {nullptr, wakeup_.fd(), ZMQ_POLLIN, 0}};
      net::poll(items, 2, std::chrono::milliseconds(100));
      if (stop_) break;
      auto now = net::Clock::now();
      if (!(items[0].revents & ZMQ_POLLIN)) {
        if (now - last_message >= options_.feed_timeout) {
          // The dispatcher is gone or the connection is stuck: start over with a fresh socket.
          sub = connect();
          hb_epoch = hb_seq = 0;
          last_message = now;
          live_ = false;
          std::lock_guard lock(mu_);
          ++stats_.reconnects;
        }
        continue;
      }
      last_message = now;
      for (int n = 0; n < 1000 && !stop_; ++n) {
        auto m = wire::recv_with_topic(*sub);
        if (!m) break;
        auto decoded = wire::decode<schema::FeedMessage>(std::move(m->message), limits);
        auto* d = std::get_if<wire::Decoded>(&decoded);
        if (!d) continue;  // not a feed message we understand; a real loss shows in the pointers
        auto msg = d->root<schema::FeedMessage>();
        const std::uint64_t pos = position_.load();
        if (msg.isEvent()) {
          auto fe = msg.getEvent();
          const std::uint64_t seq = fe.getEvent().getGlobalSeq();
          if (seq <= pos) continue;  // handled already (from history)
          const std::uint64_t prev = by_category ? fe.getPrevInCategory() : fe.getPrevGlobalSeq();
          if (prev > pos && !catch_up(prev)) break;  // missed (pos, prev]: read it
          auto e = to_client(fe.getEvent());
          if (matches(e)) handle(e);
          else position_ = seq;
          live_ = true;
        } else {
          auto hb = msg.getHeartbeat();
          const std::uint64_t head = hb.getHeadGlobalSeq();
          if (!by_category) {
            // Everything <= head was published: if that is above us, we missed the tail.
            if (head > pos && !catch_up(head)) break;
          } else {
            const bool continuous = hb.getEpoch() == hb_epoch && hb.getSeq() == hb_seq + 1 && hb.getCategoryHeadsComplete();
            std::uint64_t category_head = 0;
            for (auto ch : hb.getCategoryHeads())
              if (ch.getCategory() == filter_.categories.front()) category_head = ch.getGlobalSeq();
            if (!continuous || category_head > pos) {
              // A heartbeat missed (or the first one, or a new dispatcher), or the category's last
              // event is one we did not get: verify against history up to the head.
              if (head > pos && !catch_up(head)) break;
            } else if (head > pos) {
              position_ = head;  // no event of our category in (pos, head]
            }
            hb_epoch = hb.getEpoch();
            hb_seq = hb.getSeq();
          }
          live_ = true;
        }
      }
    }
  } catch (...) {
    std::lock_guard lock(mu_);
    error_ = std::current_exception();
  }
  live_ = false;
}

}  // namespace even::client
