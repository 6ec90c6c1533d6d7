#include "reader/read_worker.h"

#include <capnp/message.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <thread>
#include <zmq_addon.hpp>

#include "even/common/store/replication.h"

namespace even::reader {

namespace {

using EC = schema::ErrorCode;

// The store cannot answer: unreachable after a retry, not initialised, a failed query. Thrown by
// ReadWorker::with_store, answered with `code`.
class StoreFailure : public std::runtime_error {
 public:
  StoreFailure(EC code, const std::string& message) : std::runtime_error(message), code(code) {}
  EC code;
};

// Encodes `a` as the reply in `msg`, the message its page was read into.
zmq::message_t encode_answer(capnp::MallocMessageBuilder& msg, std::uint64_t request_id, Answer& a) {
  auto reply = msg.initRoot<schema::ReaderReply>();
  reply.setRequestId(request_id);
  switch (a.kind) {
    case Answer::Kind::page: {
      auto p = reply.initPage();
      p.adoptEvents(a.page.take_events());
      p.setEnd(a.page.end);
      p.setNextStreamSeq(a.page.next_stream_seq.value());
      p.setNextGlobalSeq(a.page.next_global_seq.value());
      p.setHead(a.page_head.value());
      if (!a.page.projection_seqs.empty()) {
        auto seqs = p.initProjectionSeqs(static_cast<unsigned>(a.page.projection_seqs.size()));
        for (unsigned i = 0; i < seqs.size(); ++i) seqs.set(i, a.page.projection_seqs[i]);
      }
      break;
    }
    case Answer::Kind::stream_info: {
      auto si = reply.initStreamInfo();
      si.setExists(a.stream.exists());
      store::set_lifecycle_fields(si, a.stream);
      break;
    }
    case Answer::Kind::head: reply.setHead(a.head.value()); break;
  }
  return wire::encode(msg);
}

}  // namespace

ReadWorker::ReadWorker(int index, zmq::context_t& ctx, std::string backend, config::DbOptions db,
                       WorkerOptions options, ReaderProbe& probe, std::shared_ptr<spdlog::logger> log)
    : index_(index),
      ctx_(ctx),
      backend_(std::move(backend)),
      db_(std::move(db)),
      options_(std::move(options)),
      probe_(probe),
      log_(std::move(log)),
      // Room for a full page: the events' fixed parts and their bytes, plus the reply's own words.
      scratch_(kj::heapArray<capnp::word>(options_.page.max_bytes / sizeof(capnp::word) +
                                          options_.page.max_events * 12 + 512)) {
  std::memset(scratch_.begin(), 0, scratch_.size() * sizeof(capnp::word));  // MallocMessageBuilder needs zeros
  thread_ = std::thread([this] { run(); });
}

ReadWorker::~ReadWorker() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ReadWorker::run() {
  zmq::socket_t dealer(ctx_, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(backend_);
  dealer.send(zmq::str_buffer("READY"), zmq::send_flags::none);
  // Connect early so that the first read does not pay for it, and again every second while idle
  // without a connection (so that the service can tell that the store is reachable); a request
  // also reconnects.
  bool warned = false;
  auto next_connect = std::chrono::steady_clock::now();
  auto connect_when_due = [&] {
    if (conn_ || std::chrono::steady_clock::now() < next_connect) return;
    try {
      open_read_connection();
      if (warned) log_->info("worker {}: connected to the store", index_);
      warned = false;
    } catch (const sql::SQLException& e) {
      if (!warned) log_->warn("worker {}: cannot connect to the store yet: {}", index_, store::describe(e));
      warned = true;
      next_connect = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
    connected_ = conn_ != nullptr;
  };
  std::vector<zmq::message_t> frames;
  while (!stop_) {
    connect_when_due();
    zmq::pollitem_t items[] = {{dealer.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 1, std::chrono::milliseconds(100));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      continue;
    }
    if (!(items[0].revents & ZMQ_POLLIN)) {
      sample_replica_lag();
      continue;
    }
    frames.clear();
    if (!zmq::recv_multipart(dealer, std::back_inserter(frames), zmq::recv_flags::dontwait)) continue;
    if (frames.size() < 2) continue;  // the broker always sends routing frames + request
    zmq::message_t reply = handle(std::move(frames.back()));
    connected_ = conn_ != nullptr;
    frames.pop_back();
    for (auto& f : frames) dealer.send(f, zmq::send_flags::sndmore);
    dealer.send(reply, zmq::send_flags::none);
  }
  conn_.reset();
  connected_ = false;
}

PageLimits ReadWorker::page_limits(std::uint32_t max_count) const {
  PageLimits limits = options_.page;
  if (max_count != 0) limits.max_events = std::min<std::size_t>(max_count, limits.max_events);
  limits.max_events = rows_to_ask(limits, row_bytes_hint_);
  return limits;
}

void ReadWorker::open_read_connection() {
  std::string url, passed_over;
  conn_ = store::Connection::open_replica(db_, static_cast<std::size_t>(index_), &url, &passed_over);
  if (passed_over != replicas_passed_over_ && !passed_over.empty())
    log_->warn("worker {}: not reading from {}", index_, passed_over);
  replicas_passed_over_ = passed_over;
  on_replica_ = conn_ != nullptr;
  replica_lag_ = on_replica_ ? &probe_.replica_lag(url) : nullptr;
  if (on_replica_) {
    log_->debug("worker {}: reads from the replica {}", index_, url);
    return;
  }
  conn_ = store::Connection::open(db_);
}

bool ReadWorker::read_connection_has(std::uint64_t need) {
  if (store::store_urls(db_.url).size() <= 1) return true;  // one server: it has every commit
  try {
    if (!conn_) open_read_connection();
    if (!on_replica_) return true;
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::milliseconds(options_.replica_wait_ms);
    for (int pause_ms = 1;; pause_ms = std::min(pause_ms * 2, 20)) {
      const auto applied = conn_->query_int("SELECT COALESCE(MAX(global_seq), 0) FROM events").value_or(0);
      if (static_cast<std::uint64_t>(applied) >= need) {
        if (pause_ms > 1) {
          probe_.replica_waits.inc();
          log_->debug("worker {}: waited for the replica {} to apply global position {} ({} ms)", index_,
                      conn_->url(), need,
                      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start)
                          .count());
        }
        return true;
      }
      if (std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    }
    log_->debug("worker {}: the replica {} has not applied global position {} within {} ms; reading from the primary",
                index_, conn_->url(), need, options_.replica_wait_ms);
  } catch (const sql::SQLException& e) {
    if (!conn_ || store::is_connection_lost(e)) conn_.reset();
  }
  probe_.primary_fallbacks.inc();
  return false;
}

void ReadWorker::sample_replica_lag() {
  const auto now = std::chrono::steady_clock::now();
  if (!conn_ || !replica_lag_ || now < next_lag_sample_) return;
  next_lag_sample_ = now + std::chrono::seconds(1);
  try {
    const auto lag = store::replica_lag_seconds(*conn_);
    replica_lag_->set(lag ? static_cast<double>(*lag) : -1.0);
  } catch (const sql::SQLException& e) {
    log_->warn("worker {}: lost the replica connection ({}); reconnecting", index_, store::describe(e));
    conn_.reset();
  }
}

template <typename F>
auto ReadWorker::with_store(F&& f) -> decltype(f(std::declval<StoreReads&>())) {
  for (int attempt = 0;; ++attempt) {
    // A replica opened again after a loss may lag more than the one the request was checked on.
    if (attempt > 0 && !use_primary_ && need_ > 0) use_primary_ = !read_connection_has(need_);
    auto& conn = use_primary_ ? primary_ : conn_;
    try {
      // The primary may have been demoted (read-only) since it was opened: find the writable one.
      if (conn && use_primary_ && store::is_read_only(*conn)) {
        log_->warn("worker {}: {} is read-only now (no longer the primary); looking for the primary", index_,
                   conn->url());
        conn.reset();
      }
      if (!conn && use_primary_) primary_ = store::Connection::open(db_);
      if (!conn) open_read_connection();
      StoreReads reads(*conn, use_primary_ ? &primary_hides_ : &conn_hides_);
      return f(reads);
    } catch (const sql::SQLException& e) {
      const bool lost = !conn || store::is_connection_lost(e);
      if (!lost) {
        if (e.getErrorCode() == 1146 || e.getErrorCode() == store::kErBadDb)
          throw StoreFailure(EC::UNAVAILABLE, "the store '" + db_.name + "' is not initialised: " + store::describe(e));
        log_->error("worker {}: read failed: {}", index_, store::describe(e));
        throw StoreFailure(EC::INTERNAL, "the read failed in the store: " + store::describe(e));
      }
      conn.reset();
      if (attempt >= 1) {
        log_->warn("worker {}: store unreachable after a retry: {}", index_, store::describe(e));
        throw StoreFailure(EC::UNAVAILABLE, "the store cannot be reached: " + store::describe(e));
      }
      log_->warn("worker {}: lost the store connection ({}); reconnecting and retrying", index_, store::describe(e));
    }
  }
}

ReadResult ReadWorker::serve(schema::ReaderRequest::Reader req, capnp::Orphanage orphanage) {
  if (req.getProtocolVersion() != schema::PROTOCOL_VERSION)
    return Refusal{EC::UNSUPPORTED_VERSION, "protocol version " + std::to_string(req.getProtocolVersion()) +
                                                " is not supported (this reader speaks " +
                                                std::to_string(schema::PROTOCOL_VERSION) + ")"};
  use_primary_ = false;
  need_ = req.getMinGlobalSeq();
  if (need_ > 0) use_primary_ = !read_connection_has(need_);
  Answer a;
  switch (req.which()) {
    case schema::ReaderRequest::READ_STREAM: {
      auto r = req.getReadStream();
      auto query = stream_query(r);
      if (auto* refused = std::get_if<Refusal>(&query)) return std::move(*refused);
      const auto& q = std::get<StreamPageQuery>(query);
      const PageLimits limits = page_limits(r.getMaxCount());
      auto page = with_store([&](StoreReads& s) { return s.read_stream(q, limits, orphanage); });
      if (!page) return Refusal{EC::NOT_FOUND, "stream '" + q.stream + "' does not exist"};
      a.kind = Answer::Kind::page;
      a.page = std::move(*page);
      return a;
    }
    case schema::ReaderRequest::READ_ALL: {
      auto r = req.getReadAll();
      auto query = all_query(r, options_.max_filter_values);
      if (auto* refused = std::get_if<Refusal>(&query)) return std::move(*refused);
      const auto& q = std::get<AllPageQuery>(query);
      const PageLimits limits = page_limits(r.getMaxCount());
      a.kind = Answer::Kind::page;
      a.page = with_store([&](StoreReads& s) {
        auto page = s.read_all(q, limits, orphanage);
        if (page.end) a.page_head = s.head();
        return page;
      });
      return a;
    }
    case schema::ReaderRequest::READ_PROJECTION: {
      auto r = req.getReadProjection();
      auto query = projection_query(r);
      if (auto* refused = std::get_if<Refusal>(&query)) return std::move(*refused);
      const auto& q = std::get<ProjectionPageQuery>(query);
      const PageLimits limits = page_limits(r.getMaxCount());
      auto page = with_store([&](StoreReads& s) { return s.read_projection(q, limits, orphanage); });
      if (!page) return Refusal{EC::NOT_FOUND, "projection stream '" + q.name + "' does not exist"};
      a.kind = Answer::Kind::page;
      a.page = std::move(*page);
      return a;
    }
    case schema::ReaderRequest::STREAM_INFO: {
      std::string stream = wire::text_string(req.getStreamInfo().getStream());
      if (auto refused = check_stream(stream)) return std::move(*refused);
      a.kind = Answer::Kind::stream_info;
      a.stream = with_store([&](StoreReads& s) { return s.stream_info(stream); });
      return a;
    }
    case schema::ReaderRequest::HEAD:
      a.kind = Answer::Kind::head;
      a.head = with_store([&](StoreReads& s) { return s.head(); });
      return a;
    default: return Refusal{EC::UNSUPPORTED_VERSION, "unknown request kind (newer client?)"};
  }
}

zmq::message_t ReadWorker::handle(zmq::message_t&& request) {
  std::uint64_t request_id = 0;
  auto error_reply = [&](EC code, const std::string& message) {
    log_->debug("request {} rejected: {}: {}", request_id, wire::to_string(code), message);
    return encode_error(request_id, code, message);
  };

  auto decoded = wire::decode<schema::ReaderRequest>(std::move(request), options_.limits);
  if (auto* err = std::get_if<wire::DecodeError>(&decoded)) {
    request_id = err->request_id;  // when it could still be read, so that the client's call ends now
    return error_reply(err->code, err->message);
  }
  auto req = std::get<wire::Decoded>(decoded).root<schema::ReaderRequest>();
  request_id = req.getRequestId();

  // The reply is built in the worker's reusable first segment; rows go straight into it.
  capnp::MallocMessageBuilder msg(scratch_.asPtr());
  ReadResult result;
  try {
    result = serve(req, msg.getOrphanage());
  } catch (const StoreFailure& e) {
    return error_reply(e.code, e.what());
  } catch (const std::exception& e) {
    log_->error("worker {}: request {} failed: {}", index_, request_id, e.what());
    return error_reply(EC::INTERNAL, std::string("internal error: ") + e.what());
  } catch (const kj::Exception& e) {
    log_->error("worker {}: request {} failed: {}", index_, request_id, e.getDescription().cStr());
    return error_reply(EC::INTERNAL, std::string("internal error: ") + e.getDescription().cStr());
  }
  if (auto* refused = std::get_if<Refusal>(&result)) return error_reply(refused->code, refused->message);

  auto& answer = std::get<Answer>(result);
  if (answer.kind == Answer::Kind::page) {
    probe_.page(answer.page.count, answer.page.bytes);
    if (answer.page.count > 0) row_bytes_hint_ = answer.page.bytes / answer.page.count;
  }
  return encode_answer(msg, request_id, answer);
}

}  // namespace even::reader
