// ReadWorker: one of the reader's worker threads. Owns its thread, its DEALER socket (connected
// to the ReaderService's inproc backend) and its own store connection; serves one request at a
// time: decode and validate, query the store (reconnect and retry once when the connection is
// lost), encode one reply.
//
// Protocol with the broker (ReaderService): the worker sends a one-frame "READY" when it starts;
// the broker then sends it [client routing frames..., request frame] and the worker answers with
// [client routing frames..., reply frame], which also means "ready for the next one".
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>
#include <zmq.hpp>

#include "even/common/config.h"
#include "even/common/store/mysql.h"
#include "even/common/wire.h"
#include "even/schemas/reader.capnp.h"
#include "reader/store_reads.h"

namespace even::reader {

struct WorkerOptions {
  PageLimits page;
  wire::Limits limits;                  // request size etc.
  std::size_t max_filter_values = 64;   // categories / event types one read-all may name
};

class ReadWorker {
 public:
  // Starts the thread, which connects to `backend` on `ctx`. `ctx` must outlive this worker.
  ReadWorker(int index, zmq::context_t& ctx, std::string backend, config::DbOptions db, WorkerOptions options,
             std::shared_ptr<spdlog::logger> log);
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
  // Runs `f(StoreReads&)` on the store, reconnecting and retrying once when the connection is lost.
  template <typename F>
  auto with_store(F&& f) -> decltype(f(std::declval<StoreReads&>()));
  // The limits of a page the client asked at most `max_count` events of (0: no limit of its own),
  // with as many events as the sizes of the last page say fit (rows_to_ask).
  PageLimits page_limits(std::uint32_t max_count) const;

  const int index_;
  zmq::context_t& ctx_;
  const std::string backend_;
  const config::DbOptions db_;
  const WorkerOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  kj::Array<capnp::word> scratch_;           // first segment of every reply; worker thread only
  std::unique_ptr<store::Connection> conn_;  // worker thread only; null until first use / after a loss
  std::size_t row_bytes_hint_ = 0;           // mean event size of the last page (rows_to_ask)
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::thread thread_;
};

}  // namespace even::reader
