// AdminApi: what even-admin serves on its HttpServer (common/include/even/common/metrics_http.h):
// the UI's static files (built into the binary from services/admin/web/) and a small JSON API the
// UI polls. Every route of it passes the HTTP basic check when a password is set, and answers with
// headers that forbid inline scripts (Content-Security-Policy: script-src 'self'), framing and
// content sniffing.
//
//   GET  /, /app.js, /style.css     the single-page UI (#/dashboard, #/streams, #/stream/NAME,
//                                    #/tail, #/projections)
//   GET  /api/config                 what the UI may show (the rebuild button), limits
//   GET  /api/dashboard              DashboardCollector::snapshot
//   GET  /api/streams?prefix=P&after=S   stream names from P on (the store's streams table), and
//                                    without P the streams of the last events (through the reader)
//   GET  /api/stream?name=N&before=SEQ   a stream's events newest first, a page of them
//   GET  /api/event?id=UUID          the event with that id (the store's unique key finds its
//                                    position, the reader reads it)
//   GET  /api/tail?after=G&category=C    events after G (first call: the last few)
//   GET  /api/projections            checkpoints of the query database and of projection streams
//   POST /api/projections/rebuild    {"name": N, "stream": bool}; only with allow_admin_actions,
//                                    and only with the X-Even-Admin header (which a page of
//                                    another origin cannot send without a CORS preflight we refuse)
//
// Events come from even-reader through the client library; the store is read only for what the
// reader has no request for (stream names by prefix, an event's position by its id, checkpoints).
// Thread-safe: civetweb's workers call the handlers at once; the store connection is one, behind a
// mutex, reopened after an error.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "admin/admin_options.h"
#include "admin/dashboard_collector.h"
#include "even/client/client.h"
#include "even/common/metrics_http.h"
#include "even/common/store/mysql.h"

namespace even::admin {

class AdminApi {
 public:
  // `client` reads through even-reader; `store_db` and `query_db` are the event store and the
  // projector's query database. All must outlive the AdminApi.
  AdminApi(const AdminOptions& options, client::Client& client, config::DbOptions store_db,
           config::DbOptions query_db, DashboardCollector& dashboard, std::shared_ptr<spdlog::logger> log);

  // Registers every route on `server`. The password (when set) is read here, once.
  void install(metrics::HttpServer& server);

  // The handlers, callable without HTTP (tests).
  metrics::HttpReply handle(const metrics::HttpRequest& request);

  // The event as the UI shows it: positions, type, time, ids, metadata and payload each as
  // {"encoding": "json" (pretty-printed) | "text" | "hex", "text": ..., "truncated": bool}, and
  // the correlation and causation ids found in the metadata.
  static nlohmann::json event_json(const RecordedEvent& e);

 private:
  metrics::HttpReply config_reply() const;
  metrics::HttpReply streams(const metrics::HttpRequest& req);
  metrics::HttpReply stream(const metrics::HttpRequest& req);
  metrics::HttpReply event(const metrics::HttpRequest& req);
  metrics::HttpReply tail(const metrics::HttpRequest& req);
  metrics::HttpReply projections(const metrics::HttpRequest& req);
  metrics::HttpReply rebuild(const metrics::HttpRequest& req);
  bool authorized(const metrics::HttpRequest& req) const;

  // Runs `f` with the store connection (opened on first use, dropped after an error).
  template <typename F>
  auto with_store(F&& f);

  const AdminOptions& options_;
  client::Client& client_;
  const config::DbOptions store_db_;
  const config::DbOptions query_db_;
  DashboardCollector& dashboard_;
  std::shared_ptr<spdlog::logger> log_;
  static bool loopback_host_header(const std::string& host);
  std::string password_;  // empty: no check (loopback only, admin_options.h)

  std::mutex store_mu_;
  std::unique_ptr<store::Connection> store_;  // guarded by store_mu_
};

}  // namespace even::admin
