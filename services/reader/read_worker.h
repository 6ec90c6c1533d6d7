// ReadWorker: one of the reader's worker threads. Owns its thread, its DEALER socket (connected
// to the ReaderService's inproc backend) and its own store connection; serves one request at a
// time: decode and validate, query the store (reconnect and retry once when the connection is
// lost), encode one reply.
//
// Protocol with the broker (ReaderService): the worker sends a one-frame "READY" when it starts;
// the broker then sends it [client routing frames..., request frame] and the worker answers with
// [client routing frames..., reply frame], which also means "ready for the next one".
//
// Replicas: with several servers in db.url, the worker reads from a replica (Connection::
// open_replica, spread by worker index) and keeps a second connection to the primary for the
// reads its replica cannot answer yet: a request's minGlobalSeq (read-your-writes) that the
// replica has not applied within replica_wait_ms. Commits apply on a replica in the primary's
// commit order, so a replica whose largest global_seq is N has every event up to N.
//
// Errors: a request that cannot be served as asked (malformed, unsupported, invalid, out of range,
// a stream that does not exist) is an expected outcome, a Refusal value; a store that cannot
// answer (unreachable after a retry, not initialised, a failed query) is thrown inside the worker
// and caught where the request is answered. Either way the client gets one error reply.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <spdlog/logger.h>
#include <zmq.hpp>

#include "even/common/config.h"
#include "even/common/store/mysql.h"
#include "even/common/wire.h"
#include "even/schemas/reader.capnp.h"
#include "reader/probe.h"
#include "reader/read_request.h"
#include "reader/store_reads.h"

namespace even::reader {

struct WorkerOptions {
  PageLimits page;
  wire::Limits limits;                  // request size etc.
  std::size_t max_filter_values = 64;   // categories / event types one read-all may name
  // A request's minGlobalSeq that the worker's replica has not applied yet is waited for this
  // long (polling the replica's largest global_seq), then read from the primary.
  int replica_wait_ms = 1000;
};

// What a served request produced, before it is encoded into the reply. A page's events live in
// the reply message under construction (see StoreReads).
struct Answer {
  enum class Kind { page, stream_info, head } kind = Kind::head;
  Page page;                         // page
  GlobalSeq page_head;               // page of a read-all that reached the end
  StreamLifecycle stream;  // stream_info
  GlobalSeq head;                    // head
};

using ReadResult = std::variant<Answer, Refusal>;

class ReadWorker {
 public:
  // Starts the thread, which connects to `backend` on `ctx`. `ctx` and `probe` (where the worker
  // counts the pages it builds) must outlive this worker.
  ReadWorker(int index, zmq::context_t& ctx, std::string backend, config::DbOptions db, WorkerOptions options,
             ReaderProbe& probe, std::shared_ptr<spdlog::logger> log);
  // Stops and joins the thread.
  ~ReadWorker();
  ReadWorker(const ReadWorker&) = delete;
  ReadWorker& operator=(const ReadWorker&) = delete;

  void request_stop() { stop_ = true; }
  // Whether the worker holds a store connection (it retries every second while idle without
  // one). Thread-safe.
  bool store_connected() const { return connected_; }

 private:
  void run();
  // Answers one request frame; never throws.
  zmq::message_t handle(zmq::message_t&& request);
  // Serves one decoded request whose rows go into `orphanage`'s message: an answer, or a refusal
  // of the request. Throws when the store cannot answer (see with_store), or on a bug.
  ReadResult serve(schema::ReaderRequest::Reader req, capnp::Orphanage orphanage);
  // Runs `f(StoreReads&)` on the store, reconnecting and retrying once when the connection is lost.
  // Throws StoreFailure (read_worker.cpp) when it still cannot: unreachable, not initialised, a
  // failed query.
  template <typename F>
  auto with_store(F&& f) -> decltype(f(std::declval<StoreReads&>()));
  // The limits of a page the client asked at most `max_count` events of (0: no limit of its own),
  // with as many events as the sizes of the last page say fit (rows_to_ask).
  PageLimits page_limits(std::uint32_t max_count) const;
  // Opens conn_: to a replica when db_.url lists some and one is reachable, else to the primary.
  // Throws sql::SQLException when no server is reachable.
  void open_read_connection();
  // Whether the reads of a request that needs every event up to `need` can go to conn_: it is
  // the primary, or its replica has applied `need` (waiting up to replica_wait_ms). Counted.
  bool read_connection_has(std::uint64_t need);
  // About every second while idle on a replica: its Seconds_Behind_Master into the lag gauge.
  void sample_replica_lag();

  const int index_;
  zmq::context_t& ctx_;
  const std::string backend_;
  const config::DbOptions db_;
  const WorkerOptions options_;
  ReaderProbe& probe_;
  std::shared_ptr<spdlog::logger> log_;
  kj::Array<capnp::word> scratch_;           // first segment of every reply; worker thread only
  std::unique_ptr<store::Connection> conn_;  // worker thread only; null until first use / after a loss
  bool on_replica_ = false;                  // conn_ goes to a replica
  metrics::Gauge* replica_lag_ = nullptr;    // conn_'s replica's lag gauge
  std::chrono::steady_clock::time_point next_lag_sample_{};
  // The primary, for the reads conn_'s replica cannot answer yet; opened when first needed.
  std::unique_ptr<store::Connection> primary_;
  // What lifecycles hide, for read-all pages over conn_ / primary_ (each follows its server).
  LifecycleCache conn_hides_, primary_hides_;
  bool use_primary_ = false;                 // the request being served reads from primary_
  std::uint64_t need_ = 0;                   // the request's minGlobalSeq (0: none)
  std::string replicas_passed_over_;         // the last open_replica's skips, logged when they change
  std::size_t row_bytes_hint_ = 0;           // mean event size of the last page (rows_to_ask)
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::thread thread_;
};

}  // namespace even::reader
