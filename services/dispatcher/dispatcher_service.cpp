#include "dispatcher/dispatcher_service.h"

#include <algorithm>
#include <thread>

#include "even/schemas/feed.capnp.h"

namespace even::dispatcher {

DispatcherService::DispatcherService(zmq::context_t& ctx, config::DbOptions db, DispatcherOptions options,
                                     std::shared_ptr<spdlog::logger> log)
    : ctx_(ctx),
      options_(std::move(options)),
      log_(std::move(log)),
      store_(std::move(db)),
      pull_(ctx_, zmq::socket_type::pull),
      pub_(ctx_, zmq::socket_type::pub),
      publisher_(pub_, store_, options_.publisher),
      tracker_(store_, options_.gap, [this](const store::StoredEvent& e) { publisher_.publish(e); }, log_) {}

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
  pull_.bind(options_.pull_endpoint);

  net::SocketOptions so;
  so.send_hwm = options_.pub_hwm;
  so.heartbeat_ivl_ms = 0;  // feed heartbeats are ours (Heartbeat messages)
  net::configure(pub_, so);
  pub_.bind(options_.pub_endpoint);

  const GlobalSeq resume = resume_position();
  if (stopping()) return 0;
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
  while (!stopping()) {
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
    if (now >= next_heartbeat_) {
      publisher_.heartbeat();
      next_heartbeat_ = now + options_.heartbeat;
    }
    log_stats(false);
  }
  log_stats(true);
  log_->info("stopped at global seq {}", tracker_.published().value());
  return 0;
}

void DispatcherService::receive_batches(net::Clock::time_point now) {
  // A bounded number per wake-up, so heartbeats and gap work are not starved.
  for (int n = 0; n < 256; ++n) {
    zmq::message_t frame;
    if (!pull_.recv(frame, zmq::recv_flags::dontwait)) return;
    while (frame.more()) {  // a stray multipart message: not ours
      zmq::message_t rest;
      (void)pull_.recv(rest, zmq::recv_flags::none);
      frame = std::move(rest);
      ++malformed_;
    }
    auto decoded = wire::decode<schema::CommittedBatch>(std::move(frame), options_.limits);
    if (auto* err = std::get_if<wire::DecodeError>(&decoded)) {
      if (malformed_++ % 1000 == 0) log_->warn("ignoring a feed message from the writer: {}", err->message);
      continue;
    }
    last_push_ = now;
    auto batch = std::get<wire::Decoded>(decoded).root<schema::CommittedBatch>();
    for (auto ev : batch.getEvents()) {
      try {
        tracker_.on_committed(store::from_wire(ev), now);
      } catch (const sql::SQLException& e) {
        // publish() could not look up a category; the event stays pending and is retried.
        if (store_errors_++ % 100 == 0) log_->warn("store error while publishing: {}", store::describe(e));
        store_retry_ = now + std::chrono::milliseconds(100);
      }
    }
  }
}

void DispatcherService::store_work(net::Clock::time_point now) {
  if (now < store_retry_) return;
  try {
    tracker_.run_due(now);
    // The writer has been silent: events may still have reached the store (pushed while we were
    // down, dropped on a full queue, or written by another process).
    if (now >= next_poll_) {
      next_poll_ = now + options_.poll;
      if (now - last_push_ >= options_.poll && !tracker_.in_gap()) {
        tracker_.on_store_head(store_.head(), now);
        tracker_.run_due(now);
      }
    }
  } catch (const sql::SQLException& e) {
    if (store_errors_++ % 100 == 0) log_->warn("store error: {}; retrying", store::describe(e));
    store_retry_ = now + std::chrono::milliseconds(200);
  }
}

void DispatcherService::log_stats(bool force) {
  auto now = net::Clock::now();
  if (!force && now - last_stats_ < std::chrono::seconds(10)) return;
  last_stats_ = now;
  const auto& g = tracker_.stats();
  const auto& p = publisher_.stats();
  log_->info("published {} events (head {}), {} from the store, {} duplicates, {} gaps, {} holes, {} heartbeats{}",
             g.published, tracker_.published().value(), g.from_store, g.duplicates, g.gaps, g.holes, p.heartbeats,
             p.test_dropped ? ", " + std::to_string(p.test_dropped) + " dropped on purpose (--test-drop-every)" : "");
}

}  // namespace even::dispatcher
