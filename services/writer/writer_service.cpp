#include "writer/writer_service.h"

#include <capnp/message.h>

#include <algorithm>
#include <cerrno>
#include <thread>
#include <unordered_set>
#include <spdlog/fmt/fmt.h>
#include <zmq_addon.hpp>

#include "even/schemas/feed.capnp.h"
#include "even/schemas/writer.capnp.h"
#include "writer/append_validation.h"

namespace even::writer {

WriterService::WriterService(zmq::context_t& ctx, config::DbOptions db, WriterOptions options,
                             std::shared_ptr<spdlog::logger> log)
    : ctx_(ctx),
      options_(std::move(options)),
      log_(std::move(log)),
      registry_(options_.metrics ? options_.metrics : std::make_shared<metrics::Registry>()),
      probe_(*registry_),
      committer_(std::move(db),
                 [this] {
                   auto c = options_.committer;
                   c.reconnects = &probe_.store_reconnects;
                   c.unknown_outcome_replays = &probe_.unknown_outcome_replays;
                   c.semisync = &probe_.semisync;
                   return c;
                 }(),
                 log_),
      router_(ctx_, zmq::socket_type::router),
      push_(ctx_, zmq::socket_type::push),
      notify_(options_.notifier, "writer") {}

void WriterService::request_stop() {
  stop_ = true;
  stop_wakeup_.notify();
}

bool WriterService::stopping() const { return stop_ || net::shutdown_requested(); }

int WriterService::run() {
  log_->info("starting; taking the master lock '{}'", committer_.lock_name());
  int exit_code = 0;
  for (;;) {
    // start() calls this about once a second while it waits (standby, store unreachable).
    auto waiting = [this] {
      report(std::chrono::steady_clock::now());
      return stopping();
    };
    if (!committer_.start(waiting)) {
      log_->info("stopped while in standby");
      break;
    }
    if (!bind_router()) {
      log_->info("stopped while waiting to bind {} (the master lock is given back on exit)", options_.endpoint);
      break;
    }
    const TermEnd end = serve();
    close_router();
    if (end == TermEnd::stopped) break;
    if (!options_.committer.standby) {
      log_->error("lost the master lock '{}' and standby is off (--writer.no-standby): exiting with code 3 so that only "
                  "one writer writes",
                  committer_.lock_name());
      exit_code = 3;
      break;
    }
    log_->warn("lost the master lock '{}': another even-writer is master now; this one closed {} and is a standby "
               "again",
               committer_.lock_name(), options_.endpoint);
  }
  notify_.stopping();
  log_stats(std::chrono::steady_clock::now());
  log_->info("stopped after {} batches, {} appends, {} events ({} rejected, {} feed messages dropped); "
             "{:.1f} appends per batch, {:.2f} ms per commit; exit code {}",
             stats_.batches, stats_.appends, stats_.events, stats_.rejected, stats_.feed_dropped,
             stats_.batches ? double(stats_.appends) / double(stats_.batches) : 0.0,
             stats_.batches ? stats_.commit_seconds * 1000 / double(stats_.batches) : 0.0, exit_code);
  return exit_code;
}

bool WriterService::bind_router() {
  router_ = zmq::socket_t(ctx_, zmq::socket_type::router);
  // No ZMTP heartbeats (net.h): a client's flood-and-disconnect would abort the writer.
  auto so = net::SocketOptions::server_router();
  so.recv_hwm = options_.recv_hwm;
  so.send_hwm = options_.recv_hwm;
  so.max_msg_bytes = static_cast<std::int64_t>(options_.limits.max_message_bytes) * 2;
  net::configure(router_, so);
  if (options_.auth) options_.auth->secure(router_, options_.endpoint, curve::Role::append);
  router_.set(zmq::sockopt::router_mandatory, 0);
  const auto since = std::chrono::steady_clock::now();
  for (int attempt = 0;; ++attempt) {
    if (stopping()) return false;
    try {
      router_.bind(options_.endpoint);
      if (attempt > 0)
        log_->info("bound {} after {} ms", options_.endpoint,
                   std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since)
                       .count());
      return true;
    } catch (const zmq::error_t& e) {
      if (e.num() != EADDRINUSE) throw;
      // On one host, the previous master still has it until it notices that it lost the lock
      // (its next commit or idle probe), and then it lets go. Keeping the lock meanwhile means
      // that it cannot retake the lock and write; nothing is written here before the bind.
      if (attempt == 0) notify_.status("holding the master lock; waiting for " + options_.endpoint + " to be free");
      notify_.alive();
      if (attempt % 100 == 0)
        log_->warn("holding the master lock but {} is in use ({}), presumably by the previous master until it "
                   "notices that it lost the lock; retrying every {} ms, lock kept",
                   options_.endpoint, e.what(), options_.bind_retry_ms);
      zmq::pollitem_t items[] = {{nullptr, net::shutdown_fd(), ZMQ_POLLIN, 0},
                                 {nullptr, stop_wakeup_.fd(), ZMQ_POLLIN, 0}};
      net::poll(items, 2, std::chrono::milliseconds(options_.bind_retry_ms));
    }
  }
}

void WriterService::close_router() {
  // What the clients sent and this writer never read would wait for their resend timers:
  // answering `unavailable` makes them retry at once (on whoever binds the endpoint next).
  master_ = false;
  probe_.master.set(0);
  std::vector<zmq::message_t> frames;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  while (std::chrono::steady_clock::now() < deadline) {
    frames.clear();
    if (!zmq::recv_multipart(router_, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
    handle_message(frames);
  }
  router_.set(zmq::sockopt::linger, 200);  // let those answers leave; the endpoint is freed at once
  router_.close();
}

WriterService::TermEnd WriterService::serve() {
  const int shutdown = net::shutdown_fd();
  if (!options_.dispatcher_endpoint.empty() && !push_connected_) {
    net::SocketOptions po;
    po.send_hwm = options_.push_hwm;
    po.heartbeat_ivl_ms = 0;
    po.curve = options_.feed_curve;
    net::configure(push_, po);
    push_.connect(options_.dispatcher_endpoint);
    push_connected_ = true;
  }
  master_ = true;
  probe_.master.set(1);
  probe_.standby.set(0);
  log_->info("serving appends on {}{}", options_.endpoint,
             options_.dispatcher_endpoint.empty() ? "" : ", feeding the dispatcher at " + options_.dispatcher_endpoint);
  last_stats_log_ = std::chrono::steady_clock::now();
  last_commit_done_ = last_stats_log_;
  // READY=1: the master lock is held and the ROUTER is bound.
  notify_.ready("master; serving appends on " + options_.endpoint);
  last_report_ = last_stats_log_;
  report_appends_ = stats_.appends;
  report_events_ = stats_.events;

  TermEnd end = TermEnd::stopped;
  commit_thread_ = std::make_unique<CommitThread>(committer_, [this] { return stopping(); });
  zmq::pollitem_t items[] = {{router_.handle(), 0, ZMQ_POLLIN, 0},
                             {nullptr, shutdown, ZMQ_POLLIN, 0},
                             {nullptr, stop_wakeup_.fd(), ZMQ_POLLIN, 0},
                             {nullptr, commit_thread_->fd(), ZMQ_POLLIN, 0}};
  const auto poll_timeout = std::min<std::chrono::milliseconds>(
      std::chrono::milliseconds(options_.idle_probe_ms > 0 ? std::min(options_.idle_probe_ms, 1000) : 1000),
      notify_.max_wait());
  std::vector<zmq::message_t> frames;
  auto batch_full = [this] {
    return batch_pending_.size() >= options_.max_batch_requests || batch_events_ >= options_.max_batch_events;
  };
  // Takes what is queued on the socket, up to a full batch.
  auto drain = [&] {
    while (!batch_full()) {
      frames.clear();
      if (!zmq::recv_multipart(router_, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      handle_message(frames);
    }
  };
  try {
    while (!stopping()) {
      // With a full batch waiting for the commit thread, requests stay queued in the socket
      // (up to its high-water mark, then clients feel the pushback).
      items[0].events = batch_full() ? 0 : ZMQ_POLLIN;
      net::poll(items, 4, poll_timeout);
      if (stopping()) break;
      report(std::chrono::steady_clock::now());
      if (auto done = commit_thread_->try_take()) finish_batch(std::move(*done));
      drain();
      if (commit_thread_->busy()) continue;
      if (batch_.empty()) {
        if (options_.idle_probe_ms > 0 &&
            std::chrono::steady_clock::now() - last_commit_done_ >= std::chrono::milliseconds(options_.idle_probe_ms))
          submit_probe();
        continue;
      }
      // Group commit: requests that arrived during the last commit are in the batch now; with a
      // window, also wait a little for the clients that were just answered to send again.
      if (options_.batch_window_us > 0) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(options_.batch_window_us);
        while (!batch_full() && !stopping()) {
          auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
          if (left.count() <= 0) break;
          // zmq_poll counts whole milliseconds: it waits for the whole ones, and the rest of the
          // window passes in short sleeps (rounding up made a 200 us window last over 1 ms
          // whenever no client had anything more to send).
          if (left >= std::chrono::milliseconds(1))
            net::poll(items, 1, std::chrono::duration_cast<std::chrono::milliseconds>(left));
          else
            std::this_thread::sleep_for(std::min(left, std::chrono::microseconds(50)));
          drain();
        }
      }
      submit_batch();
    }
    // Finish what was accepted before the stop.
    notify_.stopping();
    if (!batch_.empty()) submit_batch();
    if (commit_thread_->busy()) finish_batch(commit_thread_->take());
  } catch (const NotMaster& e) {
    log_->error("{}; no longer master: nothing more is written until this writer holds the lock again", e.what());
    end = TermEnd::lost_master_lock;
  }
  commit_thread_.reset();
  return end;
}

void WriterService::handle_message(std::vector<zmq::message_t>& frames) {
  if (frames.size() < 2) return;  // no routing identity: not from a DEALER/REQ peer
  zmq::message_t payload = std::move(frames.back());
  frames.pop_back();
  std::vector<zmq::message_t> envelope = std::move(frames);
  frames.clear();

  auto decoded = wire::decode<schema::WriterRequest>(std::move(payload), options_.limits);
  if (auto* err = std::get_if<wire::DecodeError>(&decoded)) {
    reply_error(envelope, err->request_id, err->code, err->message);
    return;
  }
  auto req = std::get<wire::Decoded>(decoded).root<schema::WriterRequest>();
  const std::uint64_t id = req.getRequestId();
  if (req.getProtocolVersion() != schema::PROTOCOL_VERSION) {
    probe_.append(AppendPath::unknown, AppendResult::bad_request);
    reply_error(envelope, id, schema::ErrorCode::UNSUPPORTED_VERSION,
                "protocol version " + std::to_string(req.getProtocolVersion()) + " is not supported (this writer speaks " +
                    std::to_string(schema::PROTOCOL_VERSION) + ")");
    return;
  }
  if (!master_) {
    probe_.append(AppendPath::unknown, AppendResult::unavailable);
    reply_error(envelope, id, schema::ErrorCode::UNAVAILABLE,
                "this writer lost the master lock and is a standby now; retry (appends are idempotent)");
    return;
  }
  switch (req.which()) {
    case schema::WriterRequest::PING: {
      capnp::MallocMessageBuilder msg;
      auto r = msg.initRoot<schema::WriterReply>();
      r.setRequestId(id);
      r.setPong();
      send_reply(envelope, msg);
      return;
    }
    case schema::WriterRequest::APPEND: break;
    case schema::WriterRequest::DELETE_STREAM:
    case schema::WriterRequest::TRUNCATE_STREAM:
    case schema::WriterRequest::SET_STREAM_METADATA: {
      auto change = validate_change(req);
      if (auto* rej = std::get_if<Rejection>(&change)) {
        ++stats_.rejected;
        reply_error(envelope, id, rej->code, rej->message);
        return;
      }
      // A batch of its own, after the appends received before it and before those after it: a
      // batch whose commit outcome was unknown is replayed against the state it left, and a lone
      // change replays idempotently, where [delete S, append to S] would delete S again (the
      // append then comes back idempotent, its events hidden). submit_batch() waits for the
      // batch in flight, so each call leaves the collected batch submitted.
      auto& cmd = std::get<AppendCommand>(change);
      if (!batch_.empty()) submit_batch();
      batch_pending_.push_back(Pending{std::move(envelope), id, AppendPath::serial, 0, true, cmd.stream});
      batch_.push_back(std::move(cmd));
      submit_batch();
      return;
    }
    default:
      reply_error(envelope, id, schema::ErrorCode::UNSUPPORTED_VERSION, "unknown request kind");
      return;
  }
  auto validated = validate_append(req.getAppend(), options_);
  if (auto* rej = std::get_if<Rejection>(&validated)) {
    ++stats_.rejected;
    probe_.append(AppendPath::unknown, AppendResult::bad_request);
    reply_error(envelope, id, rej->code, rej->message);
    return;
  }
  auto& cmd = std::get<AppendCommand>(validated);
  const auto path = cmd.expected.kind == ExpectedVersion::Kind::any ? AppendPath::buffered : AppendPath::serial;
  const std::size_t bytes = cmd.payload_bytes();
  if (bytes > committer_.max_batch_event_bytes()) {
    ++stats_.rejected;
    probe_.append(path, AppendResult::bad_request);
    reply_error(envelope, id, schema::ErrorCode::TOO_LARGE,
                "append of " + std::to_string(bytes) + " bytes exceeds what one statement may carry (" +
                    std::to_string(committer_.max_batch_event_bytes()) + " bytes; raise the store's max_allowed_packet)");
    return;
  }
  if (!batch_.empty() && batch_bytes_ + bytes > committer_.max_batch_event_bytes()) submit_batch();
  batch_events_ += cmd.events.size();
  batch_bytes_ += bytes;
  const auto events = static_cast<std::uint32_t>(cmd.events.size());
  batch_.push_back(std::move(cmd));
  batch_pending_.push_back(Pending{std::move(envelope), id, path, events, false, {}});
}

void WriterService::submit_probe() {
  in_flight_pending_.clear();
  commit_thread_->submit({});
}

void WriterService::submit_batch() {
  if (commit_thread_->busy()) finish_batch(commit_thread_->take());  // which may submit this batch itself
  if (batch_.empty() || commit_thread_->busy()) return;
  in_flight_pending_ = std::move(batch_pending_);
  commit_thread_->submit(std::move(batch_));
  batch_.clear();
  batch_pending_.clear();
  batch_events_ = 0;
  batch_bytes_ = 0;
}

void WriterService::finish_batch(CommitThread::Result result) {
  std::vector<Pending> pending = std::move(in_flight_pending_);
  in_flight_pending_.clear();
  if (result.error) {
    try {
      std::rethrow_exception(result.error);
    } catch (const NotMaster&) {
      // Neither the finished batch nor the one collected will be written by this writer.
      for (auto* requests : {&pending, &batch_pending_})
        for (auto& p : *requests) {
          probe_.append(p.path, AppendResult::unavailable);
          reply_error(p.envelope, p.request_id, schema::ErrorCode::UNAVAILABLE, "this writer lost the master lock");
        }
      batch_.clear();
      batch_pending_.clear();
      batch_events_ = 0;
      batch_bytes_ = 0;
      throw;
    } catch (const sql::SQLException& e) {
      // Only reached when stopping while the store is unreachable: outcome unknown, the client retries.
      for (auto& p : pending) {
        probe_.append(p.path, AppendResult::unavailable);
        reply_error(p.envelope, p.request_id, schema::ErrorCode::UNAVAILABLE,
                    "the writer is stopping and the store is unreachable; retry (appends are idempotent)");
      }
      if (!pending.empty())
        log_->error("gave up a batch of {} appends on shutdown: {}", pending.size(), store::describe(e));
      return;
    }
  }
  last_commit_done_ = std::chrono::steady_clock::now();
  if (result.outcomes.empty()) return;  // an idle probe: the connection and the lock are fine
  stats_.commit_seconds += result.seconds;
  if (stats_.recent_commit_ms.size() < 100000) stats_.recent_commit_ms.push_back(result.seconds * 1000);
  // The collected batch can start now, before this one's answers go out.
  if (!batch_.empty() && options_.batch_window_us == 0 && !stopping()) submit_batch();
  const auto& outcomes = result.outcomes;
  for (std::size_t i = 0; i < outcomes.size() && i < pending.size(); ++i) {
    const auto& o = outcomes[i];
    const auto& p = pending[i];
    if (!o.ok()) {
      ++stats_.rejected;
      probe_.append(p.path, o.error == schema::ErrorCode::WRONG_EXPECTED_VERSION ? AppendResult::conflict
                                                                                : AppendResult::bad_request);
      reply_error(p.envelope, p.request_id, o.error, o.message, o.current_version);
      continue;
    }
    capnp::MallocMessageBuilder msg;
    auto r = msg.initRoot<schema::WriterReply>();
    r.setRequestId(p.request_id);
    if (p.lifecycle) {
      store::set_lifecycle_fields(r.initLifecycle(), o.state);
      send_reply(p.envelope, msg);
      log_->info("stream '{}': {} (version {}, truncate before {}, max-count {}, max-age {} us)",
                 p.stream, o.idempotent ? "unchanged (already so)" : "lifecycle changed", o.state.version,
                 o.state.truncate_before, o.state.max_count, o.state.max_age_us);
      continue;
    }
    auto a = r.initAppend();
    a.setFirstStreamSeq(o.first_seq.value());
    a.setLastStreamSeq(o.last_seq.value());
    a.setFirstGlobalSeq(o.first_global.value());
    a.setLastGlobalSeq(o.last_global.value());
    a.setIdempotent(o.idempotent);
    send_reply(p.envelope, msg);
    ++stats_.appends;
    probe_.append(p.path, o.idempotent ? AppendResult::duplicate : AppendResult::ok);
    if (!o.idempotent) probe_.committed(p.path, p.events);
  }
  ++stats_.batches;
  stats_.events += result.committed.size();
  probe_.batch(outcomes.size(), result.committed.size(), result.seconds);
  publish(result.committed);

  auto now = std::chrono::steady_clock::now();
  if (now - last_stats_log_ >= std::chrono::seconds(10)) log_stats(now);
}

void WriterService::report(std::chrono::steady_clock::time_point now) {
  notify_.alive();
  probe_.queue_depth.set(double(batch_pending_.size() + in_flight_pending_.size()));
  probe_.standby.set(!master_ && committer_.waiting_as_standby() ? 1 : 0);
  if (master_) {
    const double secs = std::chrono::duration<double>(now - last_report_).count();
    if (secs < 2) return;
    notify_.status(fmt::format("master on {}; {:.0f} appends/s, {:.0f} events/s", options_.endpoint,
                               double(stats_.appends - report_appends_) / secs,
                               double(stats_.events - report_events_) / secs));
    last_report_ = now;
    report_appends_ = stats_.appends;
    report_events_ = stats_.events;
  } else if (committer_.store_unreachable()) {
    notify_.not_ready("the store is unreachable; retrying (" + committer_.lock_name() + ")");
  } else if (committer_.waiting_as_standby()) {
    // A standby is healthy: it is ready to take over (services/writer/README.md).
    notify_.standby("standby, waiting for the master lock '" + committer_.lock_name() + "'");
  } else {
    notify_.not_ready("connecting to the store, taking the master lock '" + committer_.lock_name() + "'");
  }
}

void WriterService::log_stats(std::chrono::steady_clock::time_point now) {
  auto& ms = stats_.recent_commit_ms;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms.empty() ? 0.0 : ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * ms.size()))]; };
  log_->info("{} batches, {} appends, {} events committed so far ({} rejected); last {} commits: p50 {:.2f} ms, "
             "p99 {:.2f} ms, max {:.2f} ms",
             stats_.batches, stats_.appends, stats_.events, stats_.rejected, ms.size(), at(0.5), at(0.99),
             ms.empty() ? 0.0 : ms.back());
  ms.clear();
  last_stats_log_ = now;
}

void WriterService::reply_error(const std::vector<zmq::message_t>& envelope, std::uint64_t request_id,
                                schema::ErrorCode code, const std::string& message, std::int64_t current_version) {
  log_->debug("request {} rejected: {}: {}", request_id, wire::to_string(code), message);
  capnp::MallocMessageBuilder msg;
  auto r = msg.initRoot<schema::WriterReply>();
  r.setRequestId(request_id);
  auto e = r.initError();
  e.setCode(code);
  e.setMessage(message);
  e.setCurrentVersion(current_version);
  send_reply(envelope, msg);
}

void WriterService::send_reply(const std::vector<zmq::message_t>& envelope, capnp::MallocMessageBuilder& msg) {
  // A vanished client is not an error: ROUTER drops replies to unknown peers, and a full peer
  // queue drops too (the client times out and retries idempotently).
  for (const auto& f : envelope) {
    zmq::message_t copy(f.data(), f.size());
    if (!router_.send(copy, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return;
  }
  auto frame = wire::encode(msg);
  (void)router_.send(frame, zmq::send_flags::dontwait);
}

void WriterService::publish(std::vector<RecordedEvent>& committed) {
  if (options_.dispatcher_endpoint.empty() || committed.empty()) return;
  constexpr std::size_t kChunk = 256;
  for (std::size_t start = 0; start < committed.size(); start += kChunk) {
    std::size_t n = std::min(kChunk, committed.size() - start);
    capnp::MallocMessageBuilder msg;
    auto list = msg.initRoot<schema::CommittedBatch>().initEvents(static_cast<unsigned>(n));
    // Claims (services/dispatcher/README.md, "Feed trust"): no metadata and payload, which the
    // dispatcher reads from the store with the rest of the row.
    for (std::size_t k = 0; k < n; ++k) wire::encode(committed[start + k], list[static_cast<unsigned>(k)]);
    auto frame = wire::encode(msg);
    if (!push_.send(frame, zmq::send_flags::dontwait)) {
      // The dispatcher is slow or down: it finds these events in the store.
      probe_.feed_dropped.inc();
      if (stats_.feed_dropped++ % 1000 == 0)
        log_->warn("dispatcher queue full; dropped feed message (it will read the store); {} dropped so far",
                   stats_.feed_dropped);
    }
  }
}

}  // namespace even::writer
