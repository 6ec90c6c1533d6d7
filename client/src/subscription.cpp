#include "even/client/subscription.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <zmq.hpp>

#include "client_impl.h"
#include "even/client/client.h"
#include "even/common/feed.h"
#include "even/common/net.h"
#include "even/common/wire.h"
#include "even/schemas/feed.capnp.h"

namespace even::client {

const char* to_string(SubscriptionState state) {
  switch (state) {
    case SubscriptionState::catching_up: return "catching up";
    case SubscriptionState::live: return "live";
    case SubscriptionState::feed_unreachable: return "feed unreachable";
    case SubscriptionState::stopped: return "stopped";
  }
  return "?";
}

std::unique_ptr<CatchUpSubscription> Client::subscribe(GlobalSeq from, const Filter& filter,
                                                       CatchUpSubscription::Handler handler,
                                                       SubscriptionOptions options) {
  return std::make_unique<CatchUpSubscription>(*this, from, filter, std::move(handler), options);
}

// The subscription's state and its thread, which alone uses the SUB socket.
class CatchUpSubscription::Impl {
 public:
  Impl(Client& client, zmq::context_t& ctx, GlobalSeq from, Filter filter, Handler handler, SubscriptionOptions options)
      : client_(client),
        ctx_(ctx),
        filter_(std::move(filter)),
        handler_(std::move(handler)),
        options_(std::move(options)),
        position_(from.value() > 0 ? from.value() - 1 : 0) {
    thread_ = std::thread(&Impl::run, this);
  }
  ~Impl() { stop(); }

  void stop() {
    stop_ = true;
    wakeup_.notify();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }
  GlobalSeq position() const { return GlobalSeq(position_.load()); }
  SubscriptionState state() const { return state_.load(); }
  std::exception_ptr error() const {
    std::lock_guard lock(mu_);
    return error_;
  }
  SubscriptionStats stats() const {
    std::lock_guard lock(mu_);
    return stats_;
  }

 private:
  void run();
  bool matches(const RecordedEvent& e) const;
  void handle(const RecordedEvent& e);
  // Reads history (position, upto] and hands it over; position() is upto afterwards. `upto` must
  // be vouched for: by the feed, or a store head at least store_settle old.
  // Returns false when stopped first.
  bool catch_up(std::uint64_t upto);
  // The store's head through the reader; nullopt when the reader did not answer or on stop().
  std::optional<std::uint64_t> store_head();
  void set_state(SubscriptionState state, const std::string& detail);

  Client& client_;
  zmq::context_t& ctx_;  // the Client's
  Filter filter_;
  Handler handler_;
  SubscriptionOptions options_;
  std::atomic<std::uint64_t> position_;
  std::atomic<SubscriptionState> state_{SubscriptionState::catching_up};
  std::atomic<bool> stop_{false};
  bool handler_failed_ = false;  // the handler threw; subscription thread only
  net::Wakeup wakeup_;
  mutable std::mutex mu_;
  std::exception_ptr error_;     // guarded by mu_
  SubscriptionStats stats_;      // guarded by mu_
  std::thread thread_;
};

CatchUpSubscription::CatchUpSubscription(Client& client, GlobalSeq from, Filter filter, Handler handler,
                                         SubscriptionOptions options)
    : impl_(std::make_unique<Impl>(client, client.impl_->ctx, from, std::move(filter), std::move(handler),
                                   std::move(options))) {}

CatchUpSubscription::~CatchUpSubscription() { stop(); }
void CatchUpSubscription::stop() { impl_->stop(); }
GlobalSeq CatchUpSubscription::position() const { return impl_->position(); }
SubscriptionState CatchUpSubscription::state() const { return impl_->state(); }
std::exception_ptr CatchUpSubscription::error() const { return impl_->error(); }
SubscriptionStats CatchUpSubscription::stats() const { return impl_->stats(); }

bool CatchUpSubscription::Impl::matches(const RecordedEvent& e) const {
  if (!filter_.categories.empty()) {
    auto c = category_of(e.stream);
    if (std::find(filter_.categories.begin(), filter_.categories.end(), c) == filter_.categories.end()) return false;
  }
  if (!filter_.event_types.empty() &&
      std::find(filter_.event_types.begin(), filter_.event_types.end(), e.type) == filter_.event_types.end())
    return false;
  return true;
}

void CatchUpSubscription::Impl::handle(const RecordedEvent& e) {
  try {
    handler_(e);  // may throw: run() stops the subscription
  } catch (...) {
    handler_failed_ = true;  // even a client::Error: catch_up must not take it for a failed read
    throw;
  }
  position_ = e.global_seq.value();
  std::lock_guard lock(mu_);
  ++stats_.handled;
}

void CatchUpSubscription::Impl::set_state(SubscriptionState state, const std::string& detail) {
  if (state_.exchange(state) == state) return;
  if (options_.on_state_change) options_.on_state_change(state, detail);
}

std::optional<std::uint64_t> CatchUpSubscription::Impl::store_head() {
  try {
    auto head = client_.head_async();
    // Waits in short steps so that stop() is not held up by a reader that does not answer.
    while (head.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready)
      if (stop_) return std::nullopt;
    return head.get().value();
  } catch (const Error&) {
    return std::nullopt;  // reader unavailable or timing out: the next poll tries again
  }
}

bool CatchUpSubscription::Impl::catch_up(std::uint64_t upto) {
  {
    std::lock_guard lock(mu_);
    ++stats_.catch_ups;
  }
  // Every read below must see `upto`: it came from the feed (the primary) or a store head, and a
  // reader on a lagging replica would otherwise answer without (position, upto] and the position
  // would pass those events for good. The reader waits for its replica or reads the primary.
  // Raising the client's minimum (never lowering it) also keeps the client's later reads at least
  // this far: a client never reads older than what its subscription handed over.
  client_.impl_->reader.raise_min_global_seq(upto);
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
      // Everything matching up to `upto` is handled: the dispatcher published up to there (or
      // the store showed it as its head, store_settle ago), so every id <= upto is committed or
      // a hole.
      position_ = std::max(position_.load(), upto);
    } catch (const Error&) {
      if (handler_failed_) throw;
      // Reader unavailable or timing out: try again from where we are.
      zmq::pollitem_t items[] = {{nullptr, wakeup_.fd(), ZMQ_POLLIN, 0}};
      net::poll(items, 1, options_.retry_after);
    }
  }
  return !stop_;
}

void CatchUpSubscription::Impl::run() {
  using Clock = net::Clock;
  const bool by_category = filter_.categories.size() == 1;
  const std::string event_topic =
      by_category ? feed::event_topic(filter_.categories.front()) : std::string(feed::kEventTopicPrefix);
  const std::string& feed_endpoint = client_.options().feed_endpoint;
  wire::Limits limits;
  limits.max_message_bytes = client_.options().max_message_bytes;

  const auto curve_keys = curve::client_keys(client_.impl_->keys, feed_endpoint, client_.impl_->keys.dispatcher);
  auto connect = [&] {
    auto sub = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::sub);
    net::SocketOptions so;
    so.recv_hwm = options_.receive_hwm;
    so.heartbeat_ivl_ms = 0;  // the feed's own heartbeats tell liveness
    so.max_msg_bytes = static_cast<std::int64_t>(limits.max_message_bytes) * 2;
    so.curve = curve_keys;
    net::configure(*sub, so);
    sub->set(zmq::sockopt::subscribe, event_topic);
    sub->set(zmq::sockopt::subscribe, feed::kHeartbeatTopic);
    sub->connect(feed_endpoint);
    return sub;
  };

  // Following the store through the reader while the feed does not vouch for positions: a head
  // read at `seen` is caught up to once it is store_settle old.
  struct StoreHead {
    std::uint64_t seq;
    Clock::time_point seen;
  };
  std::optional<StoreHead> pending;
  auto next_store_poll = Clock::now();  // the first one at once: history does not wait for the feed
  auto follow_store = [&](Clock::time_point now) {
    if (pending && now - pending->seen >= options_.store_settle) {
      const auto upto = pending->seq;
      pending.reset();
      if (upto > position_.load() && !catch_up(upto)) return;
    }
    if (!pending && now >= next_store_poll) {
      if (auto head = store_head()) pending = StoreHead{*head, Clock::now()};
      next_store_poll = now + options_.store_poll_interval;
      std::lock_guard lock(mu_);
      ++stats_.store_polls;
    }
  };
  // When the store loop needs to run next (a point far away when nothing is pending).
  auto store_due = [&] { return pending ? pending->seen + options_.store_settle : next_store_poll; };

  try {
    auto sub = connect();
    // Heartbeat continuity, for category subscriptions (schemas/README.md, "Feed").
    std::uint64_t hb_epoch = 0, hb_seq = 0;
    bool feed_vouches = false;  // a feed message arrived and the feed was not silent since
    auto last_message = Clock::now(), last_connect = last_message;
    while (!stop_) {
      if (!feed_vouches) {
        follow_store(Clock::now());
        if (stop_) break;
      }
      auto wait = std::chrono::milliseconds(100);
      if (!feed_vouches) {
        auto until = std::chrono::ceil<std::chrono::milliseconds>(store_due() - Clock::now());
        wait = std::clamp(until, std::chrono::milliseconds(0), wait);
      }
      zmq::pollitem_t items[] = {{sub->handle(), 0, ZMQ_POLLIN, 0}, {nullptr, wakeup_.fd(), ZMQ_POLLIN, 0}};
      net::poll(items, 2, wait);
      if (stop_) break;
      const auto now = Clock::now();
      bool spoke = false;  // a feed message we understood (garbage does not keep the feed alive)
      for (int n = 0; n < 1000 && !stop_ && (items[0].revents & ZMQ_POLLIN); ++n) {
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
          spoke = true;
          if (seq <= pos) continue;  // handled already (from history)
          const std::uint64_t prev = by_category ? fe.getPrevInCategory() : fe.getPrevGlobalSeq();
          if (prev > pos && !catch_up(prev)) break;  // missed (pos, prev]: read it
          auto e = wire::decode(fe.getEvent());
          if (matches(e)) handle(e);
          else position_ = seq;
        } else if (msg.isHeartbeat()) {
          auto hb = msg.getHeartbeat();
          const std::uint64_t head = hb.getHeadGlobalSeq();
          spoke = true;
          if (!by_category) {
            // Everything <= head was published: if that is above us, we missed the tail.
            if (head > pos && !catch_up(head)) break;
          } else {
            const bool continuous = hb.getEpoch() == hb_epoch && hb.getSeq() == hb_seq + 1 && hb.getCategoryHeadsComplete();
            std::uint64_t category_head = 0;
            for (auto ch : hb.getCategoryHeads())
              if (wire::text_view(ch.getCategory()) == filter_.categories.front()) category_head = ch.getGlobalSeq();
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
        }
      }
      if (stop_) break;
      if (spoke) {
        // From here the feed's pointers and heartbeats say what to read; a head read from the
        // store meanwhile is not needed any more.
        last_message = Clock::now();  // after any catch-up it made: that time was not silence
        feed_vouches = true;
        pending.reset();
        set_state(SubscriptionState::live, "following the feed at " + feed_endpoint);
      } else if (now - last_message >= options_.feed_timeout) {
        if (feed_vouches || state_.load() != SubscriptionState::feed_unreachable) {
          feed_vouches = false;
          set_state(SubscriptionState::feed_unreachable,
                    "no message from the feed at " + feed_endpoint + " for " +
                        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - last_message).count()) +
                        " ms (is even-dispatcher running there?); following the store through the reader every " +
                        std::to_string(options_.store_poll_interval.count()) + " ms until it returns");
        }
        if (now - last_connect >= options_.feed_timeout) {
          // The dispatcher is gone or the connection is stuck: start over with a fresh socket.
          sub = connect();
          hb_epoch = hb_seq = 0;
          last_connect = now;
          std::lock_guard lock(mu_);
          ++stats_.reconnects;
        }
      }
    }
  } catch (...) {
    auto error = std::current_exception();
    std::string why = "stopped by an exception";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      why = std::string("stopped: ") + e.what();
    } catch (...) {
    }
    {
      std::lock_guard lock(mu_);
      error_ = error;
    }
    set_state(SubscriptionState::stopped, why);
    return;
  }
  set_state(SubscriptionState::stopped, "stop() was called");
}

}  // namespace even::client
