#include "even/common/metrics_http.h"

#include <civetweb.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace even::metrics {

namespace {

void send(mg_connection* conn, const HttpReply& r) {
  mg_response_header_start(conn, r.status);
  mg_response_header_add(conn, "Content-Type", r.content_type.c_str(), -1);
  mg_response_header_add(conn, "Content-Length", std::to_string(r.body.size()).c_str(), -1);
  bool cache_set = false;
  for (const auto& [k, v] : r.headers) {
    mg_response_header_add(conn, k.c_str(), v.c_str(), -1);
    cache_set = cache_set || k == "Cache-Control";
  }
  if (!cache_set) mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  mg_response_header_send(conn);
  const auto* info = mg_get_request_info(conn);
  if (info && info->request_method && std::string_view(info->request_method) == "HEAD") return;
  mg_write(conn, r.body.data(), r.body.size());
}

HttpReply text(int status, std::string body) {
  HttpReply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

nlohmann::json part_json(const notify::PartHealth& h) {
  return {{"name", h.name}, {"state", h.state}, {"ready", h.ready}, {"status", h.status},
          {"since_loop_seconds", h.since_loop_seconds}};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> query_param(const std::string& query, const std::string& name) {
  std::string_view q = query;
  while (!q.empty()) {
    const auto amp = q.find('&');
    const auto part = q.substr(0, amp);
    const auto eq = part.find('=');
    if (percent_decode(part.substr(0, eq)) == name)
      return eq == std::string_view::npos ? std::string() : percent_decode(part.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::string http_listen_address(const std::string& endpoint) {
  std::string a = endpoint;
  if (a.rfind("tcp://", 0) == 0) a = a.substr(6);
  if (a.rfind("http://", 0) == 0) a = a.substr(7);
  const auto colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.size() ||
      a.find_first_not_of("0123456789", colon + 1) != std::string::npos)
    throw std::invalid_argument("metrics endpoint '" + endpoint + "' is not HOST:PORT (e.g. 127.0.0.1:9101)");
  return a;
}

HttpServer::HttpServer(std::string endpoint, Options options)
    : endpoint_(http_listen_address(endpoint)), options_(options) {
  mg_init_library(0);
  const std::string threads = std::to_string(std::max(1, options_.threads));
  const std::string timeout = std::to_string(options_.request_timeout_ms);
  const char* mg_options[] = {"listening_ports", endpoint_.c_str(), "num_threads", threads.c_str(),
                              "request_timeout_ms", timeout.c_str(), nullptr};
  mg_callbacks callbacks{};
  // civetweb logs to stderr by default; a failed listen is reported by the exception below.
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  ctx_ = mg_start(&callbacks, this, mg_options);
  if (!ctx_) {
    mg_exit_library();
    throw std::runtime_error("cannot serve HTTP on " + endpoint_ + " (address in use or invalid)");
  }
}

HttpServer::~HttpServer() {
  // civetweb's listening thread polls with a 2 s quantum before it sees the stop flag; connecting
  // to it wakes the poll at once, so a service stops in milliseconds (repeated until mg_stop
  // returns: a connection before the flag is set is served and the thread polls again).
  std::atomic<bool> stopped{false};
  std::thread waker([this, &stopped] {
    const auto address = endpoint_;
    const auto colon = address.rfind(':');
    std::string host = address.substr(0, colon);
    if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
    const int port = std::atoi(address.c_str() + colon + 1);
    while (!stopped.load()) {
      char ebuf[64];
      if (auto* c = mg_connect_client(host.c_str(), port, 0, ebuf, sizeof ebuf)) mg_close_connection(c);
      for (int i = 0; i < 10 && !stopped.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  mg_stop(ctx_);
  stopped = true;
  waker.join();
  mg_exit_library();
}

void HttpServer::route(const std::string& pattern, Handler handler, bool allow_post) {
  routes_.push_back(Route{this, std::move(handler), allow_post});
  mg_set_request_handler(ctx_, pattern.c_str(), &HttpServer::dispatch, &routes_.back());
}

int HttpServer::dispatch(mg_connection* conn, void* data) {
  const auto& route = *static_cast<Route*>(data);
  const auto* info = mg_get_request_info(conn);
  HttpRequest req;
  req.method = info && info->request_method ? info->request_method : "";
  if (!(req.method == "GET" || req.method == "HEAD" || (route.allow_post && req.method == "POST"))) {
    auto r = text(405, route.allow_post ? "only GET, HEAD and POST\n" : "only GET and HEAD\n");
    r.headers.emplace_back("Allow", route.allow_post ? "GET, HEAD, POST" : "GET, HEAD");
    send(conn, r);
    return 405;
  }
  req.path = info->local_uri ? info->local_uri : "";
  req.query = info->query_string ? info->query_string : "";
  req.remote_address = info->remote_addr;
  if (const char* a = mg_get_header(conn, "Authorization")) req.authorization = a;
  if (const char* h = mg_get_header(conn, "Host")) req.host = h;
  if (const char* x = mg_get_header(conn, "X-Even-Admin")) req.csrf_header = x;
  if (req.method == "POST") {
    const auto max = route.server->options_.max_body_bytes;
    if (info->content_length > static_cast<long long>(max)) {
      send(conn, text(413, "the body is larger than " + std::to_string(max) + " bytes\n"));
      return 413;
    }
    char buf[8192];
    for (int n; (n = mg_read(conn, buf, sizeof buf)) > 0;) {
      req.body.append(buf, static_cast<std::size_t>(n));
      if (req.body.size() > max) {
        send(conn, text(413, "the body is larger than " + std::to_string(max) + " bytes\n"));
        return 413;
      }
    }
  }
  HttpReply reply;
  try {
    reply = route.handler(req);
  } catch (const std::exception& e) {
    reply = text(500, std::string("internal error: ") + e.what() + "\n");
  }
  send(conn, reply);
  return reply.status;
}

MetricsServer::MetricsServer(std::string endpoint, std::shared_ptr<Registry> registry,
                             std::shared_ptr<notify::ServiceNotifier> notifier, std::chrono::seconds live_timeout,
                             HttpServer::Options http)
    : registry_(std::move(registry)),
      notifier_(std::move(notifier)),
      live_timeout_(live_timeout),
      http_(std::move(endpoint), http) {
  http_.route("/metrics$", [this](const HttpRequest&) {
    HttpReply r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = registry_->render();
    return r;
  });
  http_.route("/health/live$", [this](const HttpRequest&) {
    bool live = false;
    HttpReply r;
    r.body = live_json(&live);
    r.status = live ? 200 : 503;
    r.content_type = "application/json";
    return r;
  });
  http_.route("/health/ready$", [this](const HttpRequest&) {
    bool ready = false;
    HttpReply r;
    r.body = ready_json(&ready);
    r.status = ready ? 200 : 503;
    r.content_type = "application/json";
    return r;
  });
}

std::string MetricsServer::ready_json(bool* ready) const {
  auto parts = notifier_->health();
  bool all = !parts.empty();
  nlohmann::json services = nlohmann::json::array();
  for (const auto& p : parts) {
    all = all && p.ready;
    services.push_back(part_json(p));
  }
  if (ready) *ready = all;
  nlohmann::json body = {{"status", all ? "ready" : "not ready"}, {"services", services}};
  if (parts.empty()) body["reason"] = "no service is running";
  return body.dump() + "\n";
}

std::string MetricsServer::live_json(bool* live) const {
  auto parts = notifier_->health();
  bool all = true;
  nlohmann::json services = nlohmann::json::array();
  for (const auto& p : parts) {
    auto j = part_json(p);
    const bool ok = p.since_loop_seconds < double(live_timeout_.count());
    j["live"] = ok;
    all = all && ok;
    services.push_back(std::move(j));
  }
  if (live) *live = all;
  return nlohmann::json{{"status", all ? "live" : "stalled"}, {"services", services}}.dump() + "\n";
}

ProcessMetrics::ProcessMetrics(const std::string& endpoint, bool one_service, HttpServer::Options http)
    : registry(std::make_shared<Registry>()), notifier(std::make_shared<notify::ServiceNotifier>(one_service)) {
  add_process_metrics(*registry);
  if (!endpoint.empty())
    server = std::make_unique<MetricsServer>(endpoint, registry, notifier, std::chrono::seconds(15), http);
}

HttpResponse http_get(const std::string& endpoint, const std::string& path, std::chrono::milliseconds timeout,
                      const std::vector<std::pair<std::string, std::string>>& headers) {
  HttpResponse out;
  std::string address;
  try {
    address = http_listen_address(endpoint);
  } catch (const std::invalid_argument& e) {
    out.error = e.what();
    return out;
  }
  const auto colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const int port = std::stoi(address.substr(colon + 1));
  mg_init_library(0);
  char ebuf[256] = "";
  mg_connection* conn = mg_connect_client(host.c_str(), port, 0, ebuf, sizeof ebuf);
  if (!conn) {
    out.error = ebuf[0] ? ebuf : "cannot connect";
    mg_exit_library();
    return out;
  }
  std::string extra;
  for (const auto& [k, v] : headers) {
    if ((k + v).find_first_of("\r\n") != std::string::npos) {
      out.error = "a header holds CR or LF";
      mg_close_connection(conn);
      mg_exit_library();
      return out;
    }
    extra += k + ": " + v + "\r\n";
  }
  mg_printf(conn, "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n%s\r\n", path.c_str(), address.c_str(),
            extra.c_str());
  if (mg_get_response(conn, ebuf, sizeof ebuf, static_cast<int>(timeout.count())) < 0) {
    out.error = ebuf[0] ? ebuf : "no response";
  } else {
    const auto* info = mg_get_response_info(conn);
    out.status = info->status_code;
    for (int i = 0; i < info->num_headers; ++i)
      out.headers += std::string(info->http_headers[i].name) + ": " + info->http_headers[i].value + "\n";
    // The body within the same timeout, and at most 64 MiB (a /metrics page is a few KiB): a peer
    // that trickles or never ends its body must not hold the caller (even-admin's one scrape thread).
    constexpr std::size_t kMaxBody = 64u << 20;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[8192];
    for (int n; (n = mg_read(conn, buf, sizeof buf)) > 0;) {
      out.body.append(buf, static_cast<std::size_t>(n));
      if (out.body.size() > kMaxBody || std::chrono::steady_clock::now() > deadline) {
        out.error = out.body.size() > kMaxBody ? "the body is larger than 64 MiB" : "the body took longer than the timeout";
        out.status = 0;
        break;
      }
    }
  }
  mg_close_connection(conn);
  mg_exit_library();
  return out;
}

}  // namespace even::metrics
