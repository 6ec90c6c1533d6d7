#include "dispatcher/dispatcher_service.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "even/common/feed.h"
#include "even/schemas/feed.capnp.h"

namespace even::dispatcher {

DispatcherService::DispatcherService(zmq::context_t& ctx, config::DbOptions db, DispatcherOptions options,
                                     std::shared_ptr<spdlog::logger> log)
    : ctx_(ctx),
      options_(std::move(options)),
      log_(std::move(log)),
      registry_(options_.metrics ? options_.metrics : std::make_shared<metrics::Registry>()),
      probe_(*registry_),
      store_(std::move(db)),
      pull_(ctx_, zmq::socket_type::pull),
      pub_(ctx_, zmq::socket_type::pub),
      publisher_(pub_, store_, options_.publisher),
      tracker_(store_, options_.gap,
               [this](const RecordedEvent& e) {
                 publisher_.publish(e);
                 probe_.published(e.global_seq);
               },
               log_),
      verifier_(store_),
      notify_(options_.notifier, "dispatcher") {}

void DispatcherService::request_stop() {
  stop_ = true;
  stop_wakeup_.notify();
}

bool DispatcherService::stopping() const { return stop_ || net::shutdown_requested(); }

GlobalSeq DispatcherService::resume_position() {
  // Resume from the store, not from zero. Starting at the head H is sound only once every id
  // <= H is final: wait until no transaction older than "now" is open (the GapTracker's rule),
  // so an event below H that commits late is not passed over.
  int backoff_ms = 100;
  for (;;) {
    try {
      GlobalSeq head = store_.head();
      if (options_.start_from) {
        GlobalSeq from(std::max<std::uint64_t>(*options_.start_from, 1));
        log_->info("store head is {}; publishing from {} as configured", head.value(), from.value());
        return GlobalSeq(from.value() - 1);
      }
      // An event below the head that an open transaction inserted may still commit: wait until
      // no uncommitted row is left in the last stretch of ids (the GapTracker's hole rule).
      const auto started = net::Clock::now();
      bool warned = false;
      const GlobalSeq low(head.value() > 10000 ? head.value() - 10000 : 1);
      while (head.value() > 0) {
        notify_.alive();
        auto locked = store_.uncommitted_in(low, head);
        if (locked && !*locked) break;
        if (!locked && net::Clock::now() - started >= options_.gap.hole_safety) break;
        if (stopping()) return head;
        if (!warned && net::Clock::now() - started > std::chrono::seconds(2)) {
          log_->warn("waiting for open transactions that inserted events below {} (open: {})", head.value(),
                     store_.describe_open_transactions());
          warned = true;
        }
        std::this_thread::sleep_for(options_.gap.hole_check);
      }
      log_->info("resuming at the store head {}", head.value());
      return head;
    } catch (const sql::SQLException& e) {
      if (stopping()) return GlobalSeq(0);
      notify_.alive();
      notify_.not_ready("bound; the store is unavailable, retrying: " + store::describe(e));
      log_->warn("store unavailable at start-up ({}); retrying", store::describe(e));
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min(backoff_ms * 2, 5000);
    }
  }
}

int DispatcherService::run() {
  const int shutdown = net::shutdown_fd();
  net::SocketOptions po;
  po.recv_hwm = options_.pull_hwm;
  po.heartbeat_ivl_ms = 0;
  po.max_msg_bytes = static_cast<std::int64_t>(options_.limits.max_message_bytes) * 2;
  net::configure(pull_, po);
  if (options_.auth) options_.auth->secure(pull_, options_.pull_endpoint, curve::Role::feed);
  pull_.bind(options_.pull_endpoint);

  net::SocketOptions so;
  so.send_hwm = options_.pub_hwm;
  so.heartbeat_ivl_ms = 0;  // feed heartbeats are ours (Heartbeat messages)
  // Inbound only: subscriptions, and with CURVE the handshake's commands (feed.h).
  so.max_msg_bytes = options_.auth ? feed::kMaxCurveSubscriberMessageBytes : feed::kMaxSubscriptionBytes;
  net::configure(pub_, so);
  if (options_.auth) options_.auth->secure(pub_, options_.pub_endpoint, curve::Role::subscribe);
  {
    // Before bind, so that no connection is missed: ACCEPTED and DISCONNECTED events on inproc.
    static std::atomic<int> monitors{0};
    const std::string monitor = "inproc://even-dispatcher-pub-monitor-" + std::to_string(monitors++);
    if (zmq_socket_monitor(pub_.handle(), monitor.c_str(), ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) == 0) {
      pub_monitor_ = zmq::socket_t(ctx_, zmq::socket_type::pair);
      pub_monitor_.connect(monitor);
    }
  }
  pub_.bind(options_.pub_endpoint);

  notify_.status("bound; reading the store head");
  const GlobalSeq resume = resume_position();
  if (stopping()) {
    notify_.stopping();
    return 0;
  }
  tracker_.reset(resume);
  publisher_.reset(resume);
  log_->info("pulling committed events on {}, publishing on {} from global seq {} (heartbeat {} ms, gap wait {} ms)",
             options_.pull_endpoint, options_.pub_endpoint, resume.value() + 1, options_.heartbeat.count(),
             options_.gap.gap_wait.count());

  auto now = net::Clock::now();
  last_push_ = now;
  next_poll_ = now;
  next_heartbeat_ = now;
  last_stats_ = now;
  // READY=1: both sockets bound and the store answered; STATUS= every 2 s from here on.
  notify_.ready("publishing on " + options_.pub_endpoint + " from global seq " + std::to_string(resume.value() + 1));
  auto last_report = now;
  std::uint64_t report_published = tracker_.stats().published;
  while (!stopping()) {
    notify_.alive();
    // While the store fails, the status keeps saying why (store_failed) for /health/ready.
    if (auto t = net::Clock::now(); !store_failing_ && t - last_report >= std::chrono::seconds(2)) {
      const double secs = std::chrono::duration<double>(t - last_report).count();
      notify_.status("publishing on " + options_.pub_endpoint + "; head " + std::to_string(tracker_.published().value()) +
                     "; " + std::to_string(static_cast<std::uint64_t>(double(tracker_.stats().published - report_published) / secs)) +
                     " events/s");
      last_report = t;
      report_published = tracker_.stats().published;
    }
    now = net::Clock::now();
    auto wake = std::min(next_heartbeat_, next_poll_);
    if (auto d = tracker_.deadline()) wake = std::min(wake, std::max(*d, store_retry_));
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now);
    if (wake > now && timeout.count() == 0) timeout = std::chrono::milliseconds(1);
    zmq::pollitem_t items[] = {{pull_.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, shutdown, ZMQ_POLLIN, 0},
                               {nullptr, stop_wakeup_.fd(), ZMQ_POLLIN, 0}};
    net::poll(items, 3, std::max(timeout, std::chrono::milliseconds(0)));
    if (stopping()) break;
    now = net::Clock::now();
    if (items[0].revents & ZMQ_POLLIN) receive_batches(now);
    store_work(now);
    ready_when_store_answers();
    if (now >= next_heartbeat_) {
      publisher_.heartbeat();
      next_heartbeat_ = now + options_.heartbeat;
    }
    log_stats(false);
    read_pub_monitor();
    probe_.sync(tracker_.stats(), publisher_.stats(), tracker_.published(), tracker_.in_gap(), now);
  }
  if (pub_monitor_) zmq_socket_monitor(pub_.handle(), nullptr, 0);
  notify_.stopping();
  log_stats(true);
  log_->info("stopped at global seq {}", tracker_.published().value());
  return 0;
}

namespace {

// The sending peer as libzmq saw it (its IP address over tcp; "an unknown peer" where the
// transport has none, e.g. inproc). Only for logs: nothing is decided on it.
std::string peer_of(const zmq::message_t& frame) {
  const char* address = zmq_msg_gets(frame.handle(), "Peer-Address");
  return address && *address ? address : "an unknown peer";
}

// Text from the feed, for one log line: at most `max` bytes, control characters escaped.
std::string printable(std::string_view text, std::size_t max = 64) {
  std::string out;
  for (unsigned char ch : text.substr(0, max)) {
    if (ch < 0x20 || ch == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    } else {
      out += static_cast<char>(ch);
    }
  }
  if (text.size() > max) out += "...";
  return out;
}

}  // namespace

void DispatcherService::receive_batches(net::Clock::time_point now) {
  // A bounded number of frames and events per wake-up, so heartbeats and gap work are not
  // starved and memory stays bounded; the rest stays queued for the next one. Their events are
  // checked against the store together, with one read (FeedVerifier).
  constexpr std::size_t kMaxClaims = 4096;
  std::vector<FeedClaim> claims;
  std::vector<std::string> senders;
  for (int n = 0; n < 256 && claims.size() < kMaxClaims; ++n) {
    zmq::message_t frame;
    if (!pull_.recv(frame, zmq::recv_flags::dontwait)) break;
    if (frame.more()) {  // a multipart message: not ours; drop all of its frames, count it once
      std::string sender = peer_of(frame);
      std::size_t frames = 1;
      do {
        (void)pull_.recv(frame, zmq::recv_flags::none);  // the rest of a message is there at once
        ++frames;
      } while (frame.more());
      ++malformed_;
      probe_.feed_malformed.inc();
      if (auto count = malformed_log_.note(now))
        log_->warn("ignoring a feed message from {}: {} frames, a CommittedBatch is one ({} malformed since the "
                   "last such line, {} in all)",
                   sender, frames, count, malformed_);
      continue;
    }
    std::string sender = peer_of(frame);
    const bool new_sender = senders.empty() || senders.back() != sender;
    const auto tag = static_cast<std::uint32_t>(new_sender ? senders.size() : senders.size() - 1);
    if (auto err = decode_claims(std::move(frame), options_.limits, tag, claims)) {
      ++malformed_;
      probe_.feed_malformed.inc();
      if (auto count = malformed_log_.note(now))
        log_->warn("ignoring a feed message from {}: {} ({} malformed since the last such line, {} in all)", sender,
                   err->message, count, malformed_);
      continue;
    }
    if (new_sender) senders.push_back(std::move(sender));
  }
  if (!claims.empty()) offer_verified(std::move(claims), senders, now);
}

void DispatcherService::offer_verified(std::vector<FeedClaim> claims, const std::vector<std::string>& senders,
                                       net::Clock::time_point now) {
  if (now < store_retry_) {
    // The store failed a moment ago: believe nothing unchecked; read the head once it answers.
    recheck_head_ = true;
    return;
  }
  Verified verified;
  try {
    const auto started = net::Clock::now();
    verified = verifier_.verify(std::move(claims));
    const auto took = net::Clock::now() - started;
    ++feed_checks_.count;
    feed_checks_.total += took;
    feed_checks_.max = std::max(feed_checks_.max, took);
  } catch (const sql::SQLException& e) {
    store_failed(e, "while checking feed events", now, std::chrono::milliseconds(100));
    recheck_head_ = true;
    return;
  }
  for (const auto& r : verified.refused) {
    ++refused_;
    probe_.feed_refused.inc();
    auto count = refused_log_.note(now);
    if (!count) continue;
    const auto& c = r.claim;
    log_->warn("refused a feed event from {}: global seq {}, id {}, stream '{}': {}{} ({} refused since the last "
               "such line, {} in all)",
               c.sender < senders.size() ? senders[c.sender] : "an unknown peer", c.global_seq.value(),
               c.event_id ? c.event_id->to_string() : "(not 16 bytes)", printable(c.stream), to_string(r.reason),
               r.stored_id ? " (id " + r.stored_id->to_string() + ", stream '" + printable(r.stored_stream) + "')" : "",
               count, refused_);
  }
  if (!verified.events.empty()) last_push_ = now;
  for (auto& e : verified.events) {
    try {
      tracker_.on_committed(std::move(e), now);
    } catch (const sql::SQLException& ex) {
      // publish() could not look up a category; the event stays pending and is retried.
      store_failed(ex, "while publishing", now, std::chrono::milliseconds(100));
    }
  }
}

void DispatcherService::store_work(net::Clock::time_point now) {
  if (now < store_retry_) return;
  try {
    tracker_.run_due(now);
    // The writer has been silent: events may still have reached the store (pushed while we were
    // down, dropped on a full queue, or written by another process).
    // Also when feed events went unchecked after a store error: the store has what they claimed.
    if (now >= next_poll_ || recheck_head_) {
      next_poll_ = now + options_.poll;
      if ((now - last_push_ >= options_.poll || recheck_head_) && !tracker_.in_gap()) {
        const GlobalSeq head = store_.head();
        probe_.store_head(head);
        tracker_.on_store_head(head, now);
        recheck_head_ = false;
        tracker_.run_due(now);
      }
    }
  } catch (const sql::SQLException& e) {
    store_failed(e, "", now, std::chrono::milliseconds(200));
  }
}

void DispatcherService::store_failed(const sql::SQLException& e, std::string_view doing, net::Clock::time_point now,
                                     std::chrono::milliseconds retry_after) {
  probe_.store_errors.inc();
  if (store_errors_++ % 100 == 0)
    log_->warn("store error{}{}: {}; retrying", doing.empty() ? "" : " ", doing, store::describe(e));
  store_retry_ = now + retry_after;
  store_failing_ = true;
  store_answers_ = store_.answers();
  notify_.not_ready("the store fails (" + store::describe(e) + "); gaps cannot be filled; retrying");
}

void DispatcherService::ready_when_store_answers() {
  if (!store_failing_ || store_.answers() == store_answers_) return;
  store_failing_ = false;
  log_->info("the store answers again");
  notify_.ready("publishing on " + options_.pub_endpoint + "; head " + std::to_string(tracker_.published().value()));
}

void DispatcherService::read_pub_monitor() {
  if (!pub_monitor_) return;
  for (;;) {
    zmq::message_t event, address;
    if (!pub_monitor_.recv(event, zmq::recv_flags::dontwait)) break;
    if (event.more()) (void)pub_monitor_.recv(address, zmq::recv_flags::none);
    if (event.size() < 6) continue;
    std::uint16_t id;
    std::memcpy(&id, event.data(), sizeof id);
    if (id == ZMQ_EVENT_ACCEPTED) ++subscribers_;
    if (id == ZMQ_EVENT_DISCONNECTED && subscribers_ > 0) --subscribers_;
  }
  probe_.subscribers.set(subscribers_);
}

void DispatcherService::log_stats(bool force) {
  auto now = net::Clock::now();
  if (!force && now - last_stats_ < std::chrono::seconds(10)) return;
  last_stats_ = now;
  const auto& g = tracker_.stats();
  const auto& p = publisher_.stats();
  using us = std::chrono::microseconds;
  const auto& f = feed_checks_;
  log_->info("published {} events (head {}), {} from the store, {} duplicates, {} gaps, {} holes, {} heartbeats, "
             "{} feed events refused, {} malformed feed messages; feed checked in {} store reads since the last line "
             "(mean {} us, max {} us){}",
             g.published, tracker_.published().value(), g.from_store, g.duplicates, g.gaps, g.holes, p.heartbeats,
             refused_, malformed_, f.count,
             f.count ? std::chrono::duration_cast<us>(f.total).count() / static_cast<std::int64_t>(f.count) : 0,
             std::chrono::duration_cast<us>(f.max).count(),
             p.test_dropped ? ", " + std::to_string(p.test_dropped) + " dropped on purpose (--test-drop-every)" : "");
  feed_checks_ = {};
}

}  // namespace even::dispatcher
