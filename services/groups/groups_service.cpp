#include "groups/groups_service.h"

#include <cerrno>
#include <future>
#include <optional>
#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>
#include <zmq_addon.hpp>

#include "dispatcher/gap_store.h"
#include "even/client/client.h"
#include "even/common/wire.h"
#include "even/schemas/groups.capnp.h"
#include "groups/group.h"
#include "groups/group_store.h"

namespace even::groups {

namespace gs = schema::groups;

namespace {

// A message whose log line is limited to one a second, with a count of the ones not logged.
class Throttled {
 public:
  template <typename... Args>
  void warn(spdlog::logger& log, fmt::format_string<Args...> f, Args&&... args) {
    const auto now = Clock::now();
    ++count_;
    if (now - last_ < std::chrono::seconds(1)) return;
    log.warn("{} ({} such since the last line)", fmt::format(f, std::forward<Args>(args)...), count_);
    count_ = 0;
    last_ = now;
  }

 private:
  Clock::time_point last_{};
  std::uint64_t count_ = 0;
};

gs::GroupSettings::Builder fill(gs::GroupSettings::Builder b, const GroupSettings& s) {
  b.setSource(static_cast<gs::SourceKind>(s.source));
  b.setValue(wire::as_text(s.value));
  b.setMaxRetries(s.max_retries);
  b.setAckTimeoutMs(static_cast<std::uint32_t>(s.ack_timeout.count()));
  b.setMaxInFlight(s.max_in_flight);
  b.setOrdering(static_cast<gs::Ordering>(s.ordering));
  b.setStartFrom(s.start_from.value());
  return b;
}

GroupSettings settings_of(gs::GroupSettings::Reader r) {
  GroupSettings s;
  s.source = static_cast<SourceKind>(r.getSource());
  s.value = wire::text_string(r.getValue());
  s.max_retries = r.getMaxRetries();
  s.ack_timeout = std::chrono::milliseconds(r.getAckTimeoutMs());
  s.max_in_flight = r.getMaxInFlight();
  s.ordering = static_cast<Ordering>(r.getOrdering());
  s.start_from = GlobalSeq(r.getStartFrom());
  return s;
}

std::vector<DeliveryId> ids_of(capnp::List<std::uint64_t>::Reader list) {
  std::vector<DeliveryId> ids;
  ids.reserve(list.size());
  for (auto id : list) ids.push_back(id);
  return ids;
}

}  // namespace

struct GroupsService::Impl {
  struct Held {
    std::unique_ptr<Group> group;
    std::uint64_t parked_total = 0;    // as saved in the store
    std::uint64_t parked_unsaved = 0;  // parked since the last save
    GlobalSeq saved_checkpoint;
    std::int64_t saved_replay_to = 0, saved_replay_until = 0;
    // The append to the parked stream in flight (one at a time per group); after a failure the
    // same copies, with the same ids, are sent again at park_retry_at, so that an append that
    // did commit is answered as the writer's idempotent retry and not stored twice.
    struct Parking {
      std::vector<std::pair<bool, std::uint64_t>> keys;  // (replayed, key) of each copy
      std::vector<client::NewEvent> copies;
      std::string reason;  // the first one's, for the log
      std::future<client::AppendResult> result;
    };
    std::optional<Parking> parking;
    Clock::time_point park_retry_at{};
    std::chrono::milliseconds park_backoff{0};
  };

  Impl(GroupsService& s, zmq::context_t& ctx)
      : svc(s),
        log(*s.log_),
        opts(s.options_),
        store(s.db_),
        heads(s.db_),
        registry(opts.metrics ? opts.metrics : std::make_shared<metrics::Registry>()),
        notify(opts.notifier, "groups"),
        router(ctx, zmq::socket_type::router),
        m_requests(registry->counter("even_groups_requests_total", "Requests and consumer messages received")),
        m_malformed(registry->counter("even_groups_malformed_total", "Messages refused as malformed or too large")),
        m_refused(registry->counter("even_groups_refused_total",
                                    "Requests refused: unknown group, bad argument, unknown delivery id ...")),
        m_delivered(registry->counter("even_groups_delivered_total", "Events handed to consumers (redeliveries included)")),
        m_redelivered(registry->counter("even_groups_redelivered_total", "Events handed out again")),
        m_acked(registry->counter("even_groups_acked_total", "Deliveries acked")),
        m_parked(registry->counter("even_groups_parked_total", "Events appended to a parked stream")),
        m_timed_out(registry->counter("even_groups_timed_out_total", "Deliveries not acked within the ack timeout")),
        m_store_errors(registry->counter("even_groups_store_errors_total", "Failed store calls")),
        m_groups(registry->gauge("even_groups_groups", "Groups")),
        m_consumers(registry->gauge("even_groups_consumers", "Connected consumers")),
        m_in_flight(registry->gauge("even_groups_in_flight", "Deliveries not acked yet")),
        m_settled_head(registry->gauge("even_groups_settled_head_position",
                                       "The store head below which no event can still commit")) {
    limits.max_message_bytes = opts.max_request_bytes;
  }

  GroupsService& svc;
  spdlog::logger& log;
  const GroupsOptions& opts;
  GroupStore store;
  dispatcher::MysqlGapStore heads;
  std::shared_ptr<metrics::Registry> registry;
  notify::ServiceNotify notify;
  zmq::socket_t router;
  wire::Limits limits;
  std::unique_ptr<client::Client> writer;  // made on the first park

  std::map<std::string, Held> groups;
  std::map<std::string, std::string> consumer_group;  // connection -> its group
  DeliveryId next_delivery_id = 1;

  // The settled head: every id at or below it is committed or a hole for good.
  GlobalSeq settled{0};
  GlobalSeq candidate{0};  // a head seen at candidate_seen, checked once hole_settle old
  Clock::time_point candidate_seen{};
  Clock::time_point next_head_poll{};
  Clock::time_point next_save{};
  bool store_ok = false;
  std::string store_error;
  Throttled malformed_log, store_log, consumers_log;

  metrics::Counter &m_requests, &m_malformed, &m_refused, &m_delivered, &m_redelivered, &m_acked, &m_parked,
      &m_timed_out, &m_store_errors;
  metrics::Gauge &m_groups, &m_consumers, &m_in_flight, &m_settled_head;
  GroupCounters reported;  // the sums last added to the counters

  // --- replies ---
  // The envelope of the request being answered: routing id (and the empty delimiter, if sent).
  std::vector<zmq::message_t> envelope;

  void send(const std::string& peer, capnp::MessageBuilder& mb, bool with_delimiter) {
    auto frame = wire::encode(mb);
    zmq::message_t id(peer.data(), peer.size());
    if (!router.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return;
    if (with_delimiter) router.send(zmq::message_t(), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    router.send(frame, zmq::send_flags::dontwait);  // a peer gone or not reading: dropped
  }

  struct Peer {
    std::string id;
    bool delimiter = false;
    std::uint64_t request_id = 0;
  };

  void reply_error(const Peer& p, gs::GroupError code, const std::string& message,
                   const std::vector<DeliveryId>& ids = {}) {
    m_refused.inc();
    capnp::MallocMessageBuilder mb;
    auto r = mb.initRoot<gs::GroupReply>();
    r.setRequestId(p.request_id);
    auto e = r.initError();
    e.setCode(code);
    e.setMessage(wire::as_text(message));
    auto list = e.initDeliveryIds(static_cast<unsigned>(std::min<std::size_t>(ids.size(), 10000)));
    for (unsigned i = 0; i < list.size(); ++i) list.set(i, ids[i]);
    send(p.id, mb, p.delimiter);
  }

  void reply_ok(const Peer& p) {
    capnp::MallocMessageBuilder mb;
    auto r = mb.initRoot<gs::GroupReply>();
    r.setRequestId(p.request_id);
    r.setOk();
    send(p.id, mb, p.delimiter);
  }

  void info(gs::GroupInfo::Builder b, const Held& h) {
    const Group& g = *h.group;
    b.setName(wire::as_text(g.name()));
    fill(b.initSettings(), g.settings());
    b.setCheckpoint(g.checkpoint().value());
    b.setConsumers(static_cast<std::uint32_t>(g.consumers().size()));
    b.setInFlight(static_cast<std::uint32_t>(g.in_flight()));
    b.setParked(h.parked_total + h.parked_unsaved);
    const std::string parked = parked_stream_of(g.name());
    b.setParkedStream(wire::as_text(parked));
    b.setDelivered(g.counters().delivered);
    b.setRedelivered(g.counters().redelivered);
    b.setAcked(g.counters().acked);
    b.setReplayPending(static_cast<std::uint64_t>(std::max<std::int64_t>(0, g.replay_until() - g.replay_to())));
  }

  // --- requests ---
  void handle(std::vector<zmq::message_t>& frames, Clock::time_point now) {
    m_requests.inc();
    Peer p;
    p.id = frames[0].to_string();
    if (frames.size() == 3 && frames[1].size() == 0) p.delimiter = true;
    else if (frames.size() != 2) {
      m_malformed.inc();
      malformed_log.warn(log, "refused a message of {} frames (one Cap'n Proto frame expected)", frames.size() - 1);
      return reply_error(p, gs::GroupError::MALFORMED, "one GroupRequest frame expected");
    }
    auto decoded = wire::decode<gs::GroupRequest>(std::move(frames.back()), limits);
    if (auto* err = std::get_if<wire::DecodeError>(&decoded)) {
      m_malformed.inc();
      p.request_id = err->request_id;
      malformed_log.warn(log, "refused a malformed request: {}", err->message);
      return reply_error(p, err->code == schema::ErrorCode::TOO_LARGE ? gs::GroupError::TOO_LARGE : gs::GroupError::MALFORMED,
                         err->message);
    }
    auto req = std::get<wire::Decoded>(decoded).root<gs::GroupRequest>();
    p.request_id = req.getRequestId();
    if (req.getProtocolVersion() != schema::PROTOCOL_VERSION)
      return reply_error(p, gs::GroupError::UNSUPPORTED_VERSION,
                         "protocol version " + std::to_string(req.getProtocolVersion()) + " is not understood (this is " +
                             std::to_string(schema::PROTOCOL_VERSION) + ")");
    try {
      switch (req.which()) {
        case gs::GroupRequest::CREATE: return create(p, req.getCreate());
        case gs::GroupRequest::DELETE: return remove(p, wire::text_string(req.getDelete()));
        case gs::GroupRequest::LIST: return list(p);
        case gs::GroupRequest::REPLAY_PARKED: return replay(p, wire::text_string(req.getReplayParked()));
        case gs::GroupRequest::SUBSCRIBE: return subscribe(p, req.getSubscribe(), now);
        case gs::GroupRequest::ACK: {
          const auto ids = ids_of(req.getAck());
          return settle(p, ids, std::nullopt, "", now);
        }
        case gs::GroupRequest::NACK: {
          auto n = req.getNack();
          const auto ids = ids_of(n.getDeliveryIds());
          const auto action = n.getAction();
          if (action != gs::NackAction::RETRY && action != gs::NackAction::PARK && action != gs::NackAction::SKIP)
            return reply_error(p, gs::GroupError::INVALID_ARGUMENT, "unknown nack action", ids);
          return settle(p, ids, static_cast<NackAction>(action), wire::text_string(n.getReason()), now);
        }
        case gs::GroupRequest::HEARTBEAT: {
          auto c = consumer_group.find(p.id);
          if (c == consumer_group.end())
            return reply_error(p, gs::GroupError::NOT_SUBSCRIBED, "this connection is not a consumer of any group; subscribe");
          groups.at(c->second).group->touch(p.id, now);
          return reply_ok(p);
        }
        case gs::GroupRequest::UNSUBSCRIBE: {
          drop_consumer(p.id);
          return reply_ok(p);
        }
        default:
          return reply_error(p, gs::GroupError::UNSUPPORTED_VERSION, "unknown request kind");
      }
    } catch (const sql::SQLException& e) {
      store_failed(e);
      return reply_error(p, gs::GroupError::UNAVAILABLE, "the store failed: " + store::describe(e) + "; retry later");
    }
  }

  void create(const Peer& p, gs::CreateGroup::Reader c) {
    const std::string name = wire::text_string(c.getName());
    const GroupSettings s = settings_of(c.getSettings());
    if (auto why = validate_group_name(name); !why.empty()) return reply_error(p, gs::GroupError::INVALID_ARGUMENT, why);
    if (auto why = validate_settings(s); !why.empty()) return reply_error(p, gs::GroupError::INVALID_ARGUMENT, why);
    if (auto g = groups.find(name); g != groups.end()) {
      if (g->second.group->settings() == s) return reply_ok(p);  // the same create again
      return reply_error(p, gs::GroupError::ALREADY_EXISTS,
                         "group '" + name + "' exists with other settings; delete it first");
    }
    if (!store.create(name, s)) {
      return reply_error(p, gs::GroupError::ALREADY_EXISTS,
                         "group '" + name + "' exists in the store (made by another even-groups?); restart this one");
    }
    add_group(GroupRow{name, s, GlobalSeq(s.start_from.value() > 0 ? s.start_from.value() - 1 : 0), 0, 0, 0});
    log.info("created group '{}' over {} {} (max {} retries, ack timeout {} ms, {} in flight per consumer, {})", name,
             to_string(s.source), s.value, s.max_retries, s.ack_timeout.count(), s.max_in_flight, to_string(s.ordering));
    reply_ok(p);
  }

  void add_group(const GroupRow& row) {
    Held h;
    h.group = std::make_unique<Group>(row.name, row.settings, row.checkpoint, row.replay_to, row.replay_until,
                                      opts.max_buffered, &next_delivery_id);
    h.parked_total = row.parked;
    h.saved_checkpoint = h.group->checkpoint();
    h.saved_replay_to = row.replay_to;
    h.saved_replay_until = row.replay_until;
    groups[row.name] = std::move(h);
  }

  void remove(const Peer& p, const std::string& name) {
    auto g = groups.find(name);
    if (g == groups.end()) return reply_error(p, gs::GroupError::UNKNOWN_GROUP, "no group '" + name + "'");
    store.remove(name);
    for (const auto& c : g->second.group->consumers()) consumer_group.erase(c);
    groups.erase(g);
    log.info("deleted group '{}' (its parked stream {} stays)", name, parked_stream_of(name));
    reply_ok(p);
  }

  void list(const Peer& p) {
    capnp::MallocMessageBuilder mb;
    auto r = mb.initRoot<gs::GroupReply>();
    r.setRequestId(p.request_id);
    auto l = r.initGroups(static_cast<unsigned>(groups.size()));
    unsigned i = 0;
    for (const auto& [name, h] : groups) info(l[i++], h);
    send(p.id, mb, p.delimiter);
  }

  void replay(const Peer& p, const std::string& name) {
    auto g = groups.find(name);
    if (g == groups.end()) return reply_error(p, gs::GroupError::UNKNOWN_GROUP, "no group '" + name + "'");
    Group& group = *g->second.group;
    const std::int64_t until = store.stream_version(parked_stream_of(name));
    const std::int64_t from = std::max(group.replay_until(), group.replay_to());
    group.replay(until);
    log.info("group '{}': replaying parked events {}..{} of {}", name, from + 1, until, parked_stream_of(name));
    capnp::MallocMessageBuilder mb;
    auto r = mb.initRoot<gs::GroupReply>();
    r.setRequestId(p.request_id);
    r.setReplayStarted(static_cast<std::uint64_t>(std::max<std::int64_t>(0, until - from)));
    send(p.id, mb, p.delimiter);
  }

  void subscribe(const Peer& p, gs::Subscribe::Reader s, Clock::time_point now) {
    const std::string name = wire::text_string(s.getGroup());
    auto g = groups.find(name);
    if (g == groups.end()) return reply_error(p, gs::GroupError::UNKNOWN_GROUP, "no group '" + name + "'");
    if (auto c = consumer_group.find(p.id); c != consumer_group.end() && c->second != name) drop_consumer(p.id);
    const bool fresh = !g->second.group->has_consumer(p.id);
    if (fresh && consumer_group.size() >= opts.max_consumers) {
      consumers_log.warn(log, "refused a consumer of group '{}': {} consumers connected (--groups.max-consumers)",
                         name, consumer_group.size());
      return reply_error(p, gs::GroupError::UNAVAILABLE,
                         fmt::format("even-groups serves {} consumers, its most (--groups.max-consumers); retry later",
                                     consumer_group.size()));
    }
    g->second.group->subscribe(p.id, s.getMaxInFlight(), now);
    consumer_group[p.id] = name;
    if (fresh) log.info("group '{}': a consumer joined ({} now)", name, g->second.group->consumers().size());
    capnp::MallocMessageBuilder mb;
    auto r = mb.initRoot<gs::GroupReply>();
    r.setRequestId(p.request_id);
    info(r.initSubscribed(), g->second);
    send(p.id, mb, p.delimiter);
  }

  void drop_consumer(const std::string& id) {
    auto c = consumer_group.find(id);
    if (c == consumer_group.end()) return;
    if (auto g = groups.find(c->second); g != groups.end()) g->second.group->remove_consumer(id);
    consumer_group.erase(c);
  }

  void settle(const Peer& p, const std::vector<DeliveryId>& ids, std::optional<NackAction> nack,
              const std::string& reason, Clock::time_point now) {
    auto c = consumer_group.find(p.id);
    if (c == consumer_group.end())
      return reply_error(p, gs::GroupError::NOT_SUBSCRIBED,
                         "this connection is not a consumer of any group (the service restarted, or dropped it as "
                         "silent): nothing settled; subscribe again",
                         ids);
    Group& g = *groups.at(c->second).group;
    g.touch(p.id, now);
    const auto refused = nack ? g.nack(p.id, ids, *nack, reason) : g.ack(p.id, ids);
    if (!refused.empty())
      reply_error(p, gs::GroupError::UNKNOWN_DELIVERY,
                  fmt::format("{} of {} delivery ids are not held by this consumer (never sent, already settled, timed "
                              "out and handed to another consumer, or forged); they change nothing",
                              refused.size(), ids.size()),
                  refused);
  }

  // --- the store ---
  void store_failed(const sql::SQLException& e) {
    m_store_errors.inc();
    store_error = store::describe(e);
    if (store_ok) notify.not_ready("the store fails (" + store_error + "); retrying");
    store_ok = false;
    store_log.warn(log, "store call failed: {}; retrying", store_error);
  }

  void store_answered() {
    if (!store_ok) {
      store_ok = true;
      notify.ready("serving groups on " + opts.endpoint);
    }
  }

  // Moves the settled head towards the store's head (services/dispatcher/README.md, the hole rule).
  void poll_head(Clock::time_point now) {
    if (now < next_head_poll) return;
    next_head_poll = now + opts.poll;
    const GlobalSeq head = heads.head();
    if (head <= settled) return;
    if (candidate <= settled) {
      candidate = head;
      candidate_seen = now;
    }
    if (now - candidate_seen < opts.hole_settle) return;
    // Only the last 10,000 ids below the candidate can still be open: the single writer commits
    // in order and in batches below that (the dispatcher's start-up rule).
    const GlobalSeq from(std::max(settled.value() + 1, candidate.value() > 10000 ? candidate.value() - 10000 : 1));
    const auto open = heads.uncommitted_in(from, candidate);
    if ((open && !*open) || (!open && now - candidate_seen >= opts.hole_safety)) {
      settled = candidate;
      m_settled_head.set(double(settled.value()));
      candidate = head;
      candidate_seen = now;
    }
  }

  // Fetches each group's next events up to the settled head, and parked events being replayed.
  void fetch() {
    constexpr std::size_t kPage = 1000;
    for (auto& [name, h] : groups) {
      Group& g = *h.group;
      // A page at a time once there is room for one: not a query for every few acks.
      if (g.read_position() < settled && g.room() >= std::min(kPage, opts.max_buffered)) {
        const std::size_t limit = std::min(g.room(), kPage);
        auto events = store.read_source(g.settings(), g.read_position().next(), settled, limit);
        const bool full = events.size() == limit;
        for (auto& e : events) g.add(std::move(e));
        if (!full) g.fetched_up_to(settled);
      }
      if (g.replay_fetched() < g.replay_until() && g.replay_room() > 0) {
        const std::string parked = parked_stream_of(name);
        const std::size_t limit = std::min(g.replay_room(), kPage);
        auto copies = store.read_stream(parked, g.replay_fetched() + 1, g.replay_until(), limit);
        // Each copy names its original (metadata "parked.global_seq"): the consumer gets the
        // original event, with its id, as the first time. A copy whose original is gone is
        // handed out itself, with the original's type.
        std::vector<std::uint64_t> originals;
        for (const auto& c : copies) originals.push_back(original_of(c));
        auto found = store.read_at(originals);
        std::map<std::uint64_t, RecordedEvent> by_seq;
        for (auto& e : found) by_seq[e.global_seq.value()] = std::move(e);
        for (std::size_t i = 0; i < copies.size(); ++i) {
          auto o = by_seq.find(originals[i]);
          g.add_replay(copies[i].stream_seq.value(), o != by_seq.end() ? o->second : as_original(copies[i]));
        }
        if (copies.size() < limit) g.replay_fetched_up_to(g.replay_until());
      }
    }
  }

  static RecordedEvent as_original(RecordedEvent copy) {
    auto j = nlohmann::json::parse(copy.metadata, nullptr, false);
    if (j.is_object() && j.contains("parked") && j["parked"].is_object() && j["parked"].contains("type") &&
        j["parked"]["type"].is_string())
      copy.type = j["parked"]["type"].get<std::string>();
    return copy;
  }

  static std::uint64_t original_of(const RecordedEvent& copy) {
    auto j = nlohmann::json::parse(copy.metadata, nullptr, false);
    if (j.is_object() && j.contains("parked") && j["parked"].is_object() && j["parked"].contains("global_seq") &&
        j["parked"]["global_seq"].is_number_unsigned())
      return j["parked"]["global_seq"].get<std::uint64_t>();
    return 0;
  }

  // Appends what the groups park to their parked streams, without waiting: one append in flight
  // per group (at most kParkCount copies and about kParkBytes), its result taken when ready. A
  // writer that is down or slow holds back parking only; the loop goes on serving.
  void park() {
    constexpr std::size_t kParkCount = 1000;
    constexpr std::size_t kParkBytes = 4u << 20;
    for (auto& [name, h] : groups) {
      if (h.parking && h.parking->result.valid()) {
        if (h.parking->result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) continue;
        try {
          h.parking->result.get();
          parked(name, h);
        } catch (const client::DuplicateEvent&) {
          parked(name, h);  // the copies' ids are stored: an earlier try committed
        } catch (const std::exception& e) {
          park_later(name, h, e.what());
        }
      }
      if (Clock::now() < h.park_retry_at) continue;
      if (!h.parking) {
        auto to_park = h.group->take_to_park(kParkCount, kParkBytes);
        if (to_park.empty()) continue;
        h.parking.emplace();
        h.parking->reason = to_park.front().reason;
        for (const auto& t : to_park) {
          h.parking->keys.emplace_back(t.replayed, t.key);
          h.parking->copies.push_back(parked_copy(name, t));
        }
      }
      try {
        if (!writer) {
          client::ClientOptions co;
          co.writer_endpoint = opts.writer_endpoint;
          co.security = opts.security;
          co.timeout = std::chrono::seconds(5);
          co.resend_after = std::chrono::seconds(1);
          writer = std::make_unique<client::Client>(co);
        }
        h.parking->result = writer->append_async(parked_stream_of(name), ExpectedVersion::any(), h.parking->copies);
      } catch (const std::exception& e) {
        park_later(name, h, e.what());
      }
    }
  }

  // A copy of the event for the parked stream: its own type, the original's type, place and id
  // in metadata "parked".
  static client::NewEvent parked_copy(const std::string& group, const ToPark& t) {
    client::NewEvent e;
    e.id = t.copy_id;
    e.type = std::string(kParkedEventType);
    e.payload = t.event->payload;
    e.format = t.event->format;
    // The client refuses a json payload that does not parse (another client may have stored one):
    // such a copy goes as binary, or its group could never park again.
    if (e.format == PayloadFormat::json && !e.payload.empty() && !nlohmann::json::accept(e.payload))
      e.format = PayloadFormat::binary;
    nlohmann::json meta = {{"parked",
                            {{"group", group},
                             {"type", t.event->type},
                             {"global_seq", t.event->global_seq.value()},
                             {"stream", t.event->stream},
                             {"stream_seq", t.event->stream_seq.value()},
                             {"event_id", t.event->id.to_string()},
                             {"deliveries", t.deliveries},
                             {"reason", t.reason}}}};
    e.metadata = meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return e;
  }

  void parked(const std::string& name, Held& h) {
    for (const auto& [replayed, key] : h.parking->keys) h.group->park_done(replayed, key);
    h.parked_unsaved += h.parking->keys.size();
    h.park_backoff = std::chrono::milliseconds(0);
    log.info("group '{}': parked {} events in {} ({})", name, h.parking->keys.size(), parked_stream_of(name),
             h.parking->reason);
    h.parking.reset();
  }

  void park_later(const std::string& name, Held& h, const char* why) {
    h.park_backoff = std::min<std::chrono::milliseconds>(std::chrono::seconds(30),
                                                         std::max<std::chrono::milliseconds>(std::chrono::seconds(1),
                                                                                             h.park_backoff * 2));
    h.park_retry_at = Clock::now() + h.park_backoff;
    h.parking->result = {};
    log.warn("group '{}': cannot append {} events to {}: {}; retrying in {} ms (they stay unsettled)", name,
             h.parking->keys.size(), parked_stream_of(name), why, h.park_backoff.count());
  }

  void save(Clock::time_point now, bool force) {
    if (!force && now < next_save) return;
    next_save = now + opts.save_interval;
    for (auto& [name, h] : groups) {
      const Group& g = *h.group;
      if (g.checkpoint() == h.saved_checkpoint && g.replay_to() == h.saved_replay_to &&
          g.replay_until() == h.saved_replay_until && h.parked_unsaved == 0)
        continue;
      store.save_positions(name, g.checkpoint(), g.replay_to(), g.replay_until(), h.parked_unsaved);
      h.saved_checkpoint = g.checkpoint();
      h.saved_replay_to = g.replay_to();
      h.saved_replay_until = g.replay_until();
      h.parked_total += h.parked_unsaved;
      h.parked_unsaved = 0;
    }
  }

  // Sends what the groups hand out: one message per consumer and round, split so that a message
  // holds about kDeliveryBytes of events at most (one event at least), far below a client's
  // 16 MiB message limit.
  void deliver(Clock::time_point now) {
    constexpr std::size_t kDeliveryBytes = 4u << 20;
    for (auto& [name, h] : groups) {
      for (auto& [consumer, batch] : h.group->dispatch(now)) {
        for (std::size_t first = 0; first < batch.size();) {
          std::size_t end = first, bytes = 0;
          for (; end < batch.size(); ++end) {
            const auto& e = *batch[end].event;
            const std::size_t size = e.payload.size() + e.metadata.size() + e.stream.size() + e.type.size() + 64;
            if (end > first && bytes + size > kDeliveryBytes) break;
            bytes += size;
          }
          capnp::MallocMessageBuilder mb;
          auto r = mb.initRoot<gs::GroupReply>();
          auto list = r.initDeliveries(static_cast<unsigned>(end - first));
          for (std::size_t i = first; i < end; ++i) {
            auto d = list[static_cast<unsigned>(i - first)];
            d.setDeliveryId(batch[i].id);
            d.setRetryCount(batch[i].retry_count);
            d.setReplayed(batch[i].replayed);
            wire::encode(*batch[i].event, d.initEvent());
          }
          send(consumer, mb, false);  // not sent (gone, not reading): the ack timeout takes them back
          first = end;
        }
      }
    }
  }

  void expire(Clock::time_point now) {
    for (auto& [name, h] : groups) {
      h.group->expire(now);
      for (const auto& gone : h.group->remove_silent(now - opts.consumer_timeout)) {
        consumer_group.erase(gone);
        log.info("group '{}': dropped a consumer silent for {} ms; what it held goes to the others", name,
                 opts.consumer_timeout.count());
      }
    }
  }

  void report_metrics() {
    GroupCounters sum;
    std::size_t in_flight = 0;
    for (const auto& [name, h] : groups) {
      const auto& c = h.group->counters();
      sum.delivered += c.delivered;
      sum.redelivered += c.redelivered;
      sum.acked += c.acked;
      sum.parked += c.parked;
      sum.timed_out += c.timed_out;
      in_flight += h.group->in_flight();
    }
    auto add = [](metrics::Counter& m, std::uint64_t now, std::uint64_t& before) {
      if (now > before) m.inc(double(now - before));
      before = now;
    };
    add(m_delivered, sum.delivered, reported.delivered);
    add(m_redelivered, sum.redelivered, reported.redelivered);
    add(m_acked, sum.acked, reported.acked);
    add(m_parked, sum.parked, reported.parked);
    add(m_timed_out, sum.timed_out, reported.timed_out);
    m_groups.set(double(groups.size()));
    m_consumers.set(double(consumer_group.size()));
    m_in_flight.set(double(in_flight));
  }
};

GroupsService::GroupsService(zmq::context_t& ctx, config::DbOptions db, GroupsOptions options,
                             std::shared_ptr<spdlog::logger> log)
    : ctx_(ctx), db_(std::move(db)), options_(std::move(options)), log_(std::move(log)) {}

GroupsService::~GroupsService() = default;

void GroupsService::request_stop() {
  stop_ = true;
  stop_wakeup_.notify();
}

int GroupsService::run() {
  const int shutdown = net::shutdown_fd();
  Impl s(*this, ctx_);
  auto so = net::SocketOptions::server_router();
  so.recv_hwm = options_.recv_hwm;
  so.send_hwm = options_.send_hwm;
  so.max_msg_bytes = static_cast<std::int64_t>(options_.max_request_bytes) * 2;
  net::configure(s.router, so);
  if (options_.auth) options_.auth->secure(s.router, options_.endpoint, curve::Role::subscribe);
  s.router.set(zmq::sockopt::router_mandatory, 0);
  s.router.bind(options_.endpoint);
  s.notify.status("bound " + options_.endpoint + "; loading the groups from the store '" + db_.name + "'");

  bool loaded = false;
  auto last_stats = Clock::now();
  std::vector<zmq::message_t> frames;
  while (!stop_ && !net::shutdown_requested()) {
    s.notify.alive();
    auto now = Clock::now();
    if (!loaded) {
      try {
        for (const auto& row : s.store.load()) s.add_group(row);
        loaded = true;
        s.store_answered();
        log_->info("serving groups on {} ({} groups), store '{}' at {}", options_.endpoint, s.groups.size(), db_.name,
                   db_.url);
        for (const auto& [name, h] : s.groups)
          log_->info("group '{}' over {} {} resumes after checkpoint {}", name, to_string(h.group->settings().source),
                     h.group->settings().value, h.group->checkpoint().value());
      } catch (const sql::SQLException& e) {
        s.store_failed(e);
      }
    }
    zmq::pollitem_t items[] = {{s.router.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, shutdown, ZMQ_POLLIN, 0},
                               {nullptr, stop_wakeup_.fd(), ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 3, std::min(std::chrono::milliseconds(loaded ? 10 : 500), s.notify.max_wait()));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
    if (stop_ || net::shutdown_requested()) break;
    now = Clock::now();
    for (int taken = 0; taken < 1000; ++taken) {
      frames.clear();
      if (!zmq::recv_multipart(s.router, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      if (frames.size() < 2) continue;
      if (!loaded) {
        Impl::Peer p{frames[0].to_string(), frames.size() == 3 && frames[1].size() == 0, 0};
        s.reply_error(p, gs::GroupError::UNAVAILABLE, "even-groups is starting: the store is unavailable; retry later");
        continue;
      }
      s.handle(frames, now);
    }
    if (!loaded) continue;
    try {
      s.poll_head(now);
      s.fetch();
      s.store_answered();
    } catch (const sql::SQLException& e) {
      s.store_failed(e);
    }
    s.expire(now);
    s.park();
    s.deliver(now);
    try {
      s.save(now, false);
    } catch (const sql::SQLException& e) {
      s.store_failed(e);
    }
    s.report_metrics();
    if (now - last_stats >= std::chrono::seconds(10)) {
      last_stats = now;
      for (const auto& [name, h] : s.groups) {
        const auto& c = h.group->counters();
        if (c.delivered == 0 && h.group->consumers().empty()) continue;
        log_->info("group '{}': checkpoint {}, {} consumers, {} in flight, {} delivered ({} again), {} acked, {} parked",
                   name, h.group->checkpoint().value(), h.group->consumers().size(), h.group->in_flight(), c.delivered,
                   c.redelivered, c.acked, c.parked);
      }
    }
  }
  s.notify.stopping();
  if (loaded) {
    try {
      s.save(Clock::now(), true);
    } catch (const sql::SQLException& e) {
      log_->warn("could not save the checkpoints at stop: {} (the groups resume from the last saved ones)",
                 store::describe(e));
    }
  }
  log_->info("stopped");
  return 0;
}

}  // namespace even::groups
