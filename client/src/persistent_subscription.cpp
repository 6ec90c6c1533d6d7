// GroupsClient and PersistentSubscription (even/client/persistent_subscription.h): even-groups'
// protocol, schemas/groups.capnp.
#include "even/client/persistent_subscription.h"

#include <mutex>
#include <thread>
#include <zmq_addon.hpp>

#include "client_impl.h"
#include "even/schemas/groups.capnp.h"

namespace even::client {

namespace gs = schema::groups;

namespace {

curve::Keys groups_keys(const ClientOptions& o) { return curve::load(o.security); }

ChannelOptions groups_channel(const ClientOptions& o, const curve::Keys& keys) {
  ChannelOptions c;
  c.endpoint = o.groups_endpoint;
  c.socket.curve = curve::client_keys(keys, o.groups_endpoint, keys.groups);
  c.timeout = o.timeout;
  c.resend_after = o.resend_after;
  c.limits.max_message_bytes = o.max_message_bytes;
  return c;
}

ReplyInfo classify_groups_reply(wire::Decoded& d) {
  auto r = d.root<gs::GroupReply>();
  ReplyInfo info{r.getRequestId(), false, {}};
  if (r.isError() && r.getError().getCode() == gs::GroupError::UNAVAILABLE) {
    info.retry = true;
    info.message = "unavailable: " + wire::text_string(r.getError().getMessage());
  }
  return info;
}

[[noreturn]] void throw_group_error(gs::Error::Reader e) {
  const std::string message = wire::text_string(e.getMessage());
  switch (e.getCode()) {
    case gs::GroupError::UNKNOWN_GROUP: throw NotFound(ErrorCode::not_found, "notFound: " + message);
    case gs::GroupError::UNAVAILABLE: throw Unavailable(ErrorCode::unavailable, "unavailable: " + message);
    case gs::GroupError::TOO_LARGE: throw InvalidRequest(ErrorCode::too_large, "tooLarge: " + message);
    case gs::GroupError::MALFORMED: throw InvalidRequest(ErrorCode::malformed, "malformed: " + message);
    case gs::GroupError::UNSUPPORTED_VERSION:
      throw InvalidRequest(ErrorCode::unsupported_version, "unsupportedVersion: " + message);
    default: throw InvalidRequest(ErrorCode::bad_range, message);
  }
}

gs::GroupReply::Reader checked(wire::Decoded& d) {
  auto r = d.root<gs::GroupReply>();
  if (r.isError()) throw_group_error(r.getError());
  return r;
}

void fill(gs::GroupSettings::Builder b, const GroupSettings& s) {
  b.setSource(static_cast<gs::SourceKind>(s.source));
  b.setValue(wire::as_text(s.value));
  b.setMaxRetries(s.max_retries);
  b.setAckTimeoutMs(static_cast<std::uint32_t>(std::clamp<std::int64_t>(s.ack_timeout.count(), 0, UINT32_MAX)));
  b.setMaxInFlight(s.max_in_flight);
  b.setOrdering(static_cast<gs::Ordering>(s.ordering));
  b.setStartFrom(s.start_from.value());
}

GroupInfo info_of(gs::GroupInfo::Reader r) {
  GroupInfo i;
  i.name = wire::text_string(r.getName());
  auto s = r.getSettings();
  i.settings.source = static_cast<GroupSource>(s.getSource());
  i.settings.value = wire::text_string(s.getValue());
  i.settings.max_retries = s.getMaxRetries();
  i.settings.ack_timeout = std::chrono::milliseconds(s.getAckTimeoutMs());
  i.settings.max_in_flight = s.getMaxInFlight();
  i.settings.ordering = static_cast<GroupOrdering>(s.getOrdering());
  i.settings.start_from = GlobalSeq(s.getStartFrom());
  i.checkpoint = GlobalSeq(r.getCheckpoint());
  i.consumers = r.getConsumers();
  i.in_flight = r.getInFlight();
  i.parked = r.getParked();
  i.parked_stream = wire::text_string(r.getParkedStream());
  i.delivered = r.getDelivered();
  i.redelivered = r.getRedelivered();
  i.acked = r.getAcked();
  i.replay_pending = r.getReplayPending();
  return i;
}

}  // namespace

struct GroupsClient::Impl {
  explicit Impl(ClientOptions o)
      : options(std::move(o)),
        keys(groups_keys(options)),
        ctx(1),
        channel(ctx, groups_channel(options, keys), &wire::decode<gs::GroupReply>, classify_groups_reply) {}

  // Sends a request built by `build` and converts its reply with `convert`.
  template <typename T, typename Build, typename Convert>
  T call(Build build, Convert convert) {
    capnp::MallocMessageBuilder mb;
    auto req = mb.initRoot<gs::GroupRequest>();
    const auto id = channel.next_request_id();
    req.setProtocolVersion(schema::PROTOCOL_VERSION);
    req.setRequestId(id);
    build(req);
    return channel.call_future<T>(id, wire::encode(mb), convert).get();
  }

  ClientOptions options;
  curve::Keys keys;
  zmq::context_t ctx;
  RpcChannel channel;
};

GroupsClient::GroupsClient(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
GroupsClient::~GroupsClient() = default;

void GroupsClient::create(const std::string& name, const GroupSettings& settings) {
  impl_->call<int>(
      [&](gs::GroupRequest::Builder r) {
        auto c = r.initCreate();
        c.setName(wire::as_text(name));
        fill(c.initSettings(), settings);
      },
      [](wire::Decoded& d) {
        checked(d);
        return 0;
      });
}

void GroupsClient::remove(const std::string& name) {
  impl_->call<int>([&](gs::GroupRequest::Builder r) { r.setDelete(wire::as_text(name)); },
                   [](wire::Decoded& d) {
                     checked(d);
                     return 0;
                   });
}

std::vector<GroupInfo> GroupsClient::list() {
  return impl_->call<std::vector<GroupInfo>>([](gs::GroupRequest::Builder r) { r.setList(); },
                                             [](wire::Decoded& d) {
                                               auto r = checked(d);
                                               if (!r.isGroups()) throw Unavailable(ErrorCode::internal, "unexpected reply kind from even-groups");
                                               std::vector<GroupInfo> out;
                                               for (auto g : r.getGroups()) out.push_back(info_of(g));
                                               return out;
                                             });
}

std::uint64_t GroupsClient::replay_parked(const std::string& name) {
  return impl_->call<std::uint64_t>([&](gs::GroupRequest::Builder r) { r.setReplayParked(wire::as_text(name)); },
                                    [](wire::Decoded& d) {
                                      auto r = checked(d);
                                      if (!r.isReplayStarted()) throw Unavailable(ErrorCode::internal, "unexpected reply kind from even-groups");
                                      return r.getReplayStarted();
                                    });
}

// --- PersistentSubscription ---

struct PersistentSubscription::Impl {
  Impl(ClientOptions c, std::string g, Handler h, PersistentSubscriptionOptions o)
      : client(std::move(c)), group(std::move(g)), handler(std::move(h)), options(std::move(o)), keys(groups_keys(client)), ctx(1) {
    limits.max_message_bytes = client.max_message_bytes * 4;  // a batch of deliveries
  }

  ClientOptions client;
  std::string group;
  Handler handler;
  PersistentSubscriptionOptions options;
  curve::Keys keys;
  zmq::context_t ctx;
  wire::Limits limits;
  net::Wakeup wakeup;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<bool> running{true};
  mutable std::mutex mu;
  std::exception_ptr error;            // guarded by mu
  PersistentSubscriptionStats stats;   // guarded by mu
  std::uint64_t next_request_id = 1;   // the thread's

  void notice(const std::string& text) {
    if (options.on_notice) options.on_notice(text);
  }

  bool send(zmq::socket_t& s, const std::function<void(gs::GroupRequest::Builder)>& build) {
    capnp::MallocMessageBuilder mb;
    auto req = mb.initRoot<gs::GroupRequest>();
    req.setProtocolVersion(schema::PROTOCOL_VERSION);
    req.setRequestId(next_request_id++);
    build(req);
    auto frame = wire::encode(mb);
    return s.send(frame, zmq::send_flags::dontwait).has_value();
  }

  void run() {
    zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
    net::SocketOptions so;
    so.curve = curve::client_keys(keys, client.groups_endpoint, keys.groups);
    so.immediate = true;
    so.max_msg_bytes = static_cast<std::int64_t>(limits.max_message_bytes);
    net::configure(dealer, so);
    dealer.connect(client.groups_endpoint);

    using Clock = std::chrono::steady_clock;
    bool subscribed = false;
    auto next_subscribe = Clock::time_point::min();
    auto next_heartbeat = Clock::now() + options.heartbeat;
    auto subscribe = [&] {
      send(dealer, [&](gs::GroupRequest::Builder r) {
        auto s = r.initSubscribe();
        s.setGroup(wire::as_text(group));
        s.setMaxInFlight(options.max_in_flight);
      });
      std::lock_guard lock(mu);
      ++stats.subscribes;
    };
    while (!stop) {
      const auto now = Clock::now();
      if (!subscribed && now >= next_subscribe) {
        subscribe();
        next_subscribe = now + options.resubscribe_after;
      }
      if (subscribed && now >= next_heartbeat) {
        send(dealer, [](gs::GroupRequest::Builder r) { r.setHeartbeat(); });
        next_heartbeat = now + options.heartbeat;
      }
      zmq::pollitem_t items[] = {{dealer.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, wakeup.fd(), ZMQ_POLLIN, 0}};
      zmq::poll(items, 2, std::chrono::milliseconds(100));
      if (stop) break;
      for (int n = 0; n < 100; ++n) {
        zmq::message_t frame;
        if (!dealer.recv(frame, zmq::recv_flags::dontwait)) break;
        while (frame.more()) {  // one frame per message: drop the rest of anything else
          zmq::message_t rest;
          if (!dealer.recv(rest, zmq::recv_flags::dontwait) || !rest.more()) break;
        }
        auto decoded = wire::decode<gs::GroupReply>(std::move(frame), limits);
        if (auto* err = std::get_if<wire::DecodeError>(&decoded)) {
          notice("dropped a malformed message from even-groups: " + err->message);
          continue;
        }
        auto reply = std::get<wire::Decoded>(decoded).root<gs::GroupReply>();
        switch (reply.which()) {
          case gs::GroupReply::SUBSCRIBED:
            if (!subscribed) notice("joined group '" + group + "'");
            subscribed = true;
            next_heartbeat = Clock::now() + options.heartbeat;
            break;
          case gs::GroupReply::ERROR: {
            auto e = reply.getError();
            const std::string message = wire::text_string(e.getMessage());
            if (e.getCode() == gs::GroupError::UNKNOWN_GROUP) {
              std::lock_guard lock(mu);
              error = std::make_exception_ptr(NotFound(ErrorCode::not_found, "notFound: " + message));
              stop = true;
              break;
            }
            if (e.getCode() == gs::GroupError::NOT_SUBSCRIBED) {
              if (subscribed) notice("even-groups does not know this consumer (" + message + "); joining again");
              subscribed = false;
              next_subscribe = Clock::time_point::min();
            }
            if (e.getDeliveryIds().size() > 0) {
              std::lock_guard lock(mu);
              stats.refused += e.getDeliveryIds().size();
            }
            if (e.getCode() != gs::GroupError::NOT_SUBSCRIBED) notice("even-groups refused: " + message);
            break;
          }
          case gs::GroupReply::DELIVERIES:
            handle(dealer, reply.getDeliveries(), next_heartbeat);
            break;
          default:
            break;
        }
        if (stop) break;
      }
    }
    if (subscribed) send(dealer, [](gs::GroupRequest::Builder r) { r.setUnsubscribe(); });
    dealer.set(zmq::sockopt::linger, 200);  // let the unsubscribe out
    running = false;
  }

  // Handles a batch of deliveries. What is settled is sent every kFlush while the batch runs (and
  // at its end), with a heartbeat when one is due: a slow handler delays neither the acks of the
  // events handled before it nor the consumer's heartbeat.
  void handle(zmq::socket_t& dealer, capnp::List<gs::Delivery>::Reader deliveries,
              std::chrono::steady_clock::time_point& next_heartbeat) {
    using Clock = std::chrono::steady_clock;
    constexpr auto kFlush = std::chrono::milliseconds(100);
    std::vector<std::uint64_t> acks, retries, parks, skips;
    std::vector<GlobalSeq> acked_seqs;
    std::string retry_reason, park_reason, skip_reason;
    std::size_t handled = 0;
    auto list = [](capnp::List<std::uint64_t>::Builder out, const std::vector<std::uint64_t>& ids) {
      for (unsigned i = 0; i < ids.size(); ++i) out.set(i, ids[i]);
    };
    auto nack = [&](std::vector<std::uint64_t>& ids, gs::NackAction action, const std::string& reason) {
      if (ids.empty()) return;
      send(dealer, [&](gs::GroupRequest::Builder r) {
        auto n = r.initNack();
        list(n.initDeliveryIds(static_cast<unsigned>(ids.size())), ids);
        n.setAction(action);
        n.setReason(wire::as_text(reason));
      });
    };
    auto flush = [&] {
      if (!acks.empty() &&
          send(dealer, [&](gs::GroupRequest::Builder r) { list(r.initAck(static_cast<unsigned>(acks.size())), acks); }) &&
          options.on_acked)
        options.on_acked(acked_seqs);
      acked_seqs.clear();
      nack(retries, gs::NackAction::RETRY, retry_reason);
      nack(parks, gs::NackAction::PARK, park_reason);
      nack(skips, gs::NackAction::SKIP, skip_reason);
      const auto now = Clock::now();
      if (now >= next_heartbeat) {
        send(dealer, [](gs::GroupRequest::Builder r) { r.setHeartbeat(); });
        next_heartbeat = now + options.heartbeat;
      }
      std::lock_guard lock(mu);
      stats.handled += handled;
      stats.acked += acks.size();
      stats.retried += retries.size();
      stats.parked += parks.size();
      stats.skipped += skips.size();
      handled = 0;
      acks.clear();
      retries.clear();
      parks.clear();
      skips.clear();
    };
    RecordedEvent event;
    auto flushed = Clock::now();
    for (auto d : deliveries) {
      wire::decode(d.getEvent(), event);
      const DeliveryInfo info{d.getRetryCount(), d.getReplayed()};
      try {
        handler(event, info);
        acks.push_back(d.getDeliveryId());
        acked_seqs.push_back(event.global_seq);
      } catch (const ParkEvent& e) {
        parks.push_back(d.getDeliveryId());
        park_reason = e.what();
      } catch (const SkipEvent& e) {
        skips.push_back(d.getDeliveryId());
        skip_reason = e.what();
      } catch (const std::exception& e) {
        retries.push_back(d.getDeliveryId());
        retry_reason = e.what();
      } catch (...) {
        retries.push_back(d.getDeliveryId());
        retry_reason = "a non-standard exception";
      }
      ++handled;
      if (Clock::now() - flushed >= kFlush) {
        flush();
        flushed = Clock::now();
      }
    }
    flush();
  }
};

PersistentSubscription::PersistentSubscription(ClientOptions client, std::string group, Handler handler,
                                               PersistentSubscriptionOptions options)
    : impl_(std::make_unique<Impl>(std::move(client), std::move(group), std::move(handler), std::move(options))) {
  impl_->thread = std::thread([impl = impl_.get()] {
    try {
      impl->run();
    } catch (...) {
      std::lock_guard lock(impl->mu);
      impl->error = std::current_exception();
      impl->running = false;
    }
  });
}

PersistentSubscription::~PersistentSubscription() { stop(); }

void PersistentSubscription::stop() {
  impl_->stop = true;
  impl_->wakeup.notify();
  if (impl_->thread.joinable()) impl_->thread.join();
}

bool PersistentSubscription::running() const { return impl_->running; }

std::exception_ptr PersistentSubscription::error() const {
  std::lock_guard lock(impl_->mu);
  return impl_->error;
}

PersistentSubscriptionStats PersistentSubscription::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

}  // namespace even::client
