#include "admin/admin_api.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <map>
#include <set>

#include "admin/web_files.h"
#include "even/projector/checkpoint.h"

namespace even::admin {

namespace {

using json = nlohmann::json;
using metrics::HttpReply;
using metrics::HttpRequest;

// What one payload or metadata field shows at most (the rest: "truncated"): a page of events
// stays small however large the events are.
constexpr std::size_t kShowBytes = 64 * 1024;

// Scripts, styles and data only from this origin; no inline script, no framing, no sniffing: even
// if a name slipped through unescaped, the browser would not run it.
void add_security_headers(HttpReply& r) {
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                         "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
}

HttpReply json_reply(const json& body, int status = 200) {
  HttpReply r;
  r.status = status;
  r.content_type = "application/json; charset=utf-8";
  // Names and payloads may hold any bytes: invalid UTF-8 is shown as U+FFFD, never an exception.
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

HttpReply error_reply(int status, const std::string& message) { return json_reply({{"error", message}}, status); }

std::string content_type_of(std::string_view path) {
  auto ends = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  return "application/octet-stream";
}

std::optional<std::uint64_t> to_u64(const std::optional<std::string>& text) {
  if (!text || text->empty()) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || p != text->data() + text->size()) return std::nullopt;
  return v;
}

std::string base64_decode(std::string_view in) {
  static const std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : in) {
    if (c == '=') break;
    const auto v = kAlphabet.find(c);
    if (v == std::string_view::npos) return {};
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

// Compares without stopping at the first difference, so the time does not tell how much matched.
bool same_secret(std::string_view given, std::string_view secret) {
  unsigned char diff = given.size() == secret.size() ? 0 : 1;
  const std::string_view other = given.size() == secret.size() ? secret : given;
  for (std::size_t i = 0; i < given.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ other[i]);
  return diff == 0;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xe ? 2 : (c >> 3) == 0x1e ? 3 : 4;
    if (n == 4 || i + n >= s.size() + (n == 0 ? 1 : 0)) return n == 0;
    for (std::size_t k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    i += n + 1;
  }
  return true;
}

std::string hex_of(std::string_view s) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 3);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (i) out += (i % 16 == 0) ? '\n' : ' ';
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

// A payload or the metadata as the UI shows it.
json body_json(const std::string& bytes, bool declared_json) {
  json out = {{"bytes", bytes.size()}, {"truncated", bytes.size() > kShowBytes}};
  if (bytes.empty()) {
    out["encoding"] = "empty";
    out["text"] = "";
    return out;
  }
  if (declared_json && bytes.size() <= kShowBytes) {
    auto parsed = json::parse(bytes, nullptr, false);
    if (!parsed.is_discarded()) {
      out["encoding"] = "json";
      out["text"] = parsed.dump(2, ' ', false, json::error_handler_t::replace);
      return out;
    }
  }
  const std::string_view shown = std::string_view(bytes).substr(0, kShowBytes);
  if (valid_utf8(shown)) {
    out["encoding"] = "text";
    out["text"] = std::string(shown);
  } else {
    out["encoding"] = "hex";
    out["text"] = hex_of(shown);
  }
  return out;
}

std::string iso_time(std::int64_t us) {
  const std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>((us / 1000) % 1000));
  return std::string(buf) + frac;
}

}  // namespace

AdminApi::AdminApi(const AdminOptions& options, client::Client& client, config::DbOptions store_db,
                   config::DbOptions query_db, DashboardCollector& dashboard, std::shared_ptr<spdlog::logger> log)
    : options_(options),
      client_(client),
      store_db_(std::move(store_db)),
      query_db_(std::move(query_db)),
      dashboard_(dashboard),
      log_(std::move(log)) {}

template <typename F>
auto AdminApi::with_store(F&& f) {
  std::lock_guard lock(store_mu_);
  try {
    if (!store_) store_ = store::Connection::open(store_db_);
    return f(*store_);
  } catch (const sql::SQLException&) {
    store_.reset();  // a fresh connection next time
    throw;
  }
}

void AdminApi::install(metrics::HttpServer& server) {
  if (!options_.password_file.empty()) {
    password_ = store::read_password_file(options_.password_file);
    if (password_.empty()) throw std::runtime_error("--admin.password-file " + options_.password_file + " holds no password");
  }
  auto handler = [this](const HttpRequest& req) { return handle(req); };
  server.route("/$", handler);
  for (auto* f = web_files_begin(); f != web_files_end(); ++f) server.route(std::string(f->path) + "$", handler);
  for (const char* p : {"/api/config$", "/api/dashboard$", "/api/streams$", "/api/stream$", "/api/event$",
                        "/api/tail$", "/api/projections$"})
    server.route(p, handler);
  if (options_.allow_admin_actions) server.route("/api/projections/rebuild$", handler, /*allow_post=*/true);
}

bool AdminApi::authorized(const HttpRequest& req) const {
  if (options_.password_file.empty()) return true;  // loopback only (admin_options.cpp)
  const std::string_view prefix = "Basic ";
  if (req.authorization.rfind(prefix, 0) != 0) return false;
  const std::string decoded = base64_decode(std::string_view(req.authorization).substr(prefix.size()));
  const auto colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  return same_secret(std::string_view(decoded).substr(colon + 1), password_);
}

// Without a password the UI is served on loopback only, and only to a browser that asked for a
// loopback name: a page of another site whose name was made to resolve to 127.0.0.1 (DNS
// rebinding) is of the same origin for the browser, but sends its own name as Host.
bool AdminApi::loopback_host_header(const std::string& host) {
  std::string name = host;  // HOST[:PORT], [V6][:PORT]
  if (!name.empty() && name.front() == '[') {
    name = name.substr(0, name.find(']') + 1);
  } else if (auto colon = name.rfind(':'); colon != std::string::npos) {
    name.resize(colon);
  }
  if (name == "localhost" || name == "[::1]") return true;
  try {
    return is_loopback_host(name + ":1");
  } catch (const std::exception&) {
    return false;
  }
}

HttpReply AdminApi::handle(const HttpRequest& req) {
  HttpReply r;
  if (options_.password_file.empty() && !loopback_host_header(req.host)) {
    r = error_reply(403, "this UI answers only to a loopback name (127.0.0.1, localhost, [::1]) without a password");
  } else if (!authorized(req)) {
    r = error_reply(401, "this UI needs its password (even-admin --admin.password-file)");
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"even-admin\", charset=\"UTF-8\"");
  } else {
    try {
      const auto& p = req.path;
      if (p == "/api/config") r = config_reply();
      else if (p == "/api/dashboard") r = json_reply(dashboard_.snapshot());
      else if (p == "/api/streams") r = streams(req);
      else if (p == "/api/stream") r = stream(req);
      else if (p == "/api/event") r = event(req);
      else if (p == "/api/tail") r = tail(req);
      else if (p == "/api/projections") r = projections(req);
      else if (p == "/api/projections/rebuild") r = rebuild(req);
      else {
        const std::string_view want = p == "/" ? "/index.html" : std::string_view(p);
        r = error_reply(404, "no such page");
        for (auto* f = web_files_begin(); f != web_files_end(); ++f)
          if (f->path == want) {
            r = HttpReply{};
            r.content_type = content_type_of(want);
            r.body = std::string(f->body);
          }
      }
    } catch (const client::Error& e) {
      r = error_reply(502, std::string("even-reader: ") + e.what());
    } catch (const sql::SQLException& e) {
      log_->warn("store: {}", store::describe(e));
      r = error_reply(502, "the store: " + store::describe(e));
    }
  }
  add_security_headers(r);
  return r;
}

HttpReply AdminApi::config_reply() const {
  return json_reply({{"allow_admin_actions", options_.allow_admin_actions},
                     {"tail_max_events", options_.tail_max_events},
                     {"page_events", options_.page_events},
                     {"scrape_interval_ms", options_.scrape_interval.count()},
                     {"version", std::string(metrics::build_version())}});
}

json AdminApi::event_json(const RecordedEvent& e) {
  json j = {{"global_seq", e.global_seq.value()},
            {"stream", e.stream},
            {"stream_seq", e.stream_seq.value()},
            {"type", e.type},
            {"id", e.id.to_string()},
            {"time", iso_time(e.created_at_us)},
            {"format", e.format == PayloadFormat::json ? "json" : "binary"},
            {"payload", body_json(e.payload, e.format == PayloadFormat::json)},
            {"metadata", body_json(e.metadata, true)}};
  auto md = json::parse(e.metadata, nullptr, false);
  if (md.is_object()) {
    for (const char* key : {"correlation_id", "causation_id"})
      if (md.contains(key) && md[key].is_string()) j[key] = md[key];
  }
  return j;
}

HttpReply AdminApi::streams(const HttpRequest& req) {
  const std::string prefix = metrics::query_param(req.query, "prefix").value_or("");
  const std::string after = metrics::query_param(req.query, "after").value_or("");
  const std::size_t limit = options_.stream_list_max;
  json list = json::array();
  bool more = false;
  if (prefix.empty() && after.empty()) {
    // The streams of the last events: what was written lately, through the reader.
    const auto head = client_.head();
    const std::uint64_t from = head.value() > 500 ? head.value() - 499 : 1;
    auto page = client_.read_all_page_async(GlobalSeq(from), {}, 500).get();
    std::vector<std::string> order;
    std::map<std::string, std::pair<std::uint64_t, std::string>> latest;  // stream -> (seq, time)
    for (auto it = page.events.rbegin(); it != page.events.rend(); ++it) {
      if (latest.count(it->stream)) continue;
      latest[it->stream] = {it->stream_seq.value(), iso_time(it->created_at_us)};
      order.push_back(it->stream);
    }
    for (const auto& s : order) {
      if (list.size() >= limit) break;
      list.push_back({{"stream", s}, {"version", latest[s].first}, {"updated", latest[s].second}});
    }
    return json_reply({{"recent", true}, {"streams", list}, {"more", false}});
  }
  // Names from max(prefix, after) on, in the primary key's order, while they start with the prefix.
  // A stream's version and last write are its last event's (schema 3: `streams` holds no version),
  // each found through UNIQUE (stream, stream_seq).
  std::string sql =
      "SELECT s.stream, COALESCE(l.stream_seq, 0), s.deleted, COALESCE(l.created_at_us, s.updated_at_us) "
      "FROM streams s LEFT JOIN events l ON l.stream = s.stream AND l.stream_seq = "
      "(SELECT MAX(m.stream_seq) FROM events m WHERE m.stream = s.stream) WHERE s.stream >= ";
  store::append_hex(sql, prefix.data(), prefix.size());
  if (!after.empty()) {
    sql += " AND s.stream > ";
    store::append_hex(sql, after.data(), after.size());
  }
  sql += " ORDER BY s.stream LIMIT " + std::to_string(limit + 1);
  with_store([&](store::Connection& c) {
    auto rs = c.query(sql);
    while (rs->next()) {
      std::string name = rs->getString(1);
      if (name.rfind(prefix, 0) != 0) break;
      if (list.size() == limit) {
        more = true;
        break;
      }
      list.push_back({{"stream", name},
                      {"version", rs->getInt64(2)},
                      {"deleted", rs->getInt(3) != 0},
                      {"updated", iso_time(rs->getInt64(4))}});
    }
    return 0;
  });
  return json_reply({{"recent", false}, {"streams", list}, {"more", more}});
}

HttpReply AdminApi::stream(const HttpRequest& req) {
  const auto name = metrics::query_param(req.query, "name");
  if (!name || name->empty()) return error_reply(400, "name: which stream");
  const auto before = to_u64(metrics::query_param(req.query, "before"));
  if (metrics::query_param(req.query, "before") && !before) return error_reply(400, "before: a stream sequence");
  const StreamSeq from = before ? StreamSeq(static_cast<std::int64_t>(*before)) : client::kStreamEnd;
  try {
    auto page = client_.read_stream_page_async(*name, from, client::Direction::backward, options_.page_events).get();
    json events = json::array();
    for (const auto& e : page.events) events.push_back(event_json(e));
    json out = {{"stream", *name}, {"events", events}, {"end", page.end}};
    if (!page.end && !page.events.empty()) out["next_before"] = page.next_stream_seq.value();
    return json_reply(out);
  } catch (const client::NotFound&) {
    return error_reply(404, "no stream '" + *name + "'");
  } catch (const client::InvalidRequest& e) {
    return error_reply(400, e.what());
  }
}

HttpReply AdminApi::event(const HttpRequest& req) {
  const auto text = metrics::query_param(req.query, "id").value_or("");
  const auto id = EventId::parse(text);
  if (!id) return error_reply(400, "id: an event id (a UUID)");
  std::string hex = id->to_string();
  hex.erase(std::remove(hex.begin(), hex.end(), '-'), hex.end());
  const auto seq = with_store([&](store::Connection& c) {
    return c.query_int("SELECT global_seq FROM events WHERE event_id = UNHEX('" + hex + "')");
  });
  if (!seq) return error_reply(404, "no event has the id " + id->to_string() + " (a command's id, or not stored)");
  auto page = client_.read_all_page_async(GlobalSeq(static_cast<std::uint64_t>(*seq)), {}, 1).get();
  if (page.events.empty() || page.events[0].global_seq.value() != static_cast<std::uint64_t>(*seq))
    return error_reply(404, "the event at " + std::to_string(*seq) + " is gone (scavenged?)");
  return json_reply(event_json(page.events[0]));
}

HttpReply AdminApi::tail(const HttpRequest& req) {
  client::Filter filter;
  if (auto c = metrics::query_param(req.query, "category"); c && !c->empty()) filter.categories.push_back(*c);
  const auto after_text = metrics::query_param(req.query, "after");
  const auto after = to_u64(after_text);
  if (after_text && !after_text->empty() && !after) return error_reply(400, "after: a global sequence");
  std::uint64_t from;
  if (after) {
    from = *after + 1;
  } else {  // the first call: the last few events
    const auto head = client_.head().value();
    from = head > 20 ? head - 19 : 1;
  }
  const std::size_t max = std::min<std::size_t>(options_.tail_max_events, 500);
  auto page = client_.read_all_page_async(GlobalSeq(from), filter, max).get();
  json events = json::array();
  for (const auto& e : page.events) events.push_back(event_json(e));
  // Where the next poll starts: after the last event read (not after the page's head, which is
  // read after the page: an event committed in between would be skipped).
  const std::uint64_t next_after = page.events.empty() ? from - 1 : page.events.back().global_seq.value();
  return json_reply({{"events", events}, {"after", next_after}, {"end", page.end}});
}

HttpReply AdminApi::projections(const HttpRequest&) {
  json rows = json::array();
  std::uint64_t head = 0;
  try {
    head = client_.head().value();
  } catch (const client::Error&) {
    // the reader is away: the heads the projectors saw last
  }
  auto add = [&](const std::optional<std::vector<projector::Checkpoint>>& cps, const char* kind) {
    if (!cps) return;
    for (const auto& cp : *cps) head = std::max(head, cp.head.value());
    for (const auto& cp : *cps) {
      const std::uint64_t lag = head > cp.position.value() ? head - cp.position.value() : 0;
      json j = {{"name", cp.projection},
                {"kind", kind},
                {"state", cp.state},
                {"position", cp.position.value()},
                {"head", head},
                {"lag", lag},
                {"events_applied", cp.events_applied},
                {"rate", cp.rate},
                {"rebuild_from_head", cp.rebuild_from_head.value()},
                {"rebuild_requested", cp.rebuild_requested},
                {"error", cp.error},
                {"updated", iso_time(cp.updated_at_us)}};
      if (auto eta = projector::rebuild_eta_seconds(cp, GlobalSeq(head))) j["eta_s"] = *eta;
      if (cp.state == "rebuilding" && cp.rebuild_from_head.value() > 0)
        j["progress"] = std::min(1.0, double(cp.position.value()) / double(cp.rebuild_from_head.value()));
      rows.push_back(std::move(j));
    }
  };
  add(projector::read_checkpoints(query_db_, projector::kQueryCheckpointTable), "projection");
  add(projector::read_checkpoints(store_db_, projector::kStreamCheckpointTable), "stream");
  return json_reply({{"projections", rows}, {"head", head}, {"query_db", query_db_.name},
                     {"allow_admin_actions", options_.allow_admin_actions}});
}

HttpReply AdminApi::rebuild(const HttpRequest& req) {
  if (!options_.allow_admin_actions) return error_reply(403, "even-admin runs without --admin.allow-admin-actions");
  if (req.method != "POST") return error_reply(405, "POST {\"name\": ..., \"stream\": false}");
  if (req.csrf_header != "1") return error_reply(403, "a rebuild needs the header X-Even-Admin: 1");
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("name") || !body["name"].is_string())
    return error_reply(400, "the body must be {\"name\": \"projection\", \"stream\": false}");
  const std::string name = body["name"];
  const bool is_stream = body.value("stream", false);
  if (name.empty() || name.size() > 190) return error_reply(400, "name: 1 to 190 bytes");
  const auto& db = is_stream ? store_db_ : query_db_;
  const std::string table = is_stream ? projector::kStreamCheckpointTable : projector::kQueryCheckpointTable;
  if (!projector::request_rebuild(db, name, table))
    return error_reply(404, "no " + std::string(is_stream ? "projection stream" : "projection") + " '" + name + "' in " +
                                table + " of database '" + db.name + "'");
  log_->info("rebuild of {} '{}' requested from {} through the UI", is_stream ? "projection stream" : "projection",
             name, req.remote_address);
  return json_reply({{"requested", true}, {"name", name}, {"stream", is_stream}});
}

}  // namespace even::admin
