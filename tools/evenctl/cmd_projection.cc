// evenctl projection status|rebuild and evenctl read-projection.
//
// status and rebuild read and flag the projector's checkpoints through its public API
// (even/projector/checkpoint.h): `even_checkpoints` in the query database (--query-db-*) and
// `projection_stream_checkpoints` in the event store (--db-*). rebuild sets rebuild_requested; a
// running projector notices it within its --projector.progress-interval-ms, a stopped one at its next start.
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "even/common/store/mysql.h"
#include "even/projector/checkpoint.h"
#include "evenctl/commands.h"
#include "even/common/types.h"

namespace even::ctl {

namespace {

namespace po = config::po;
using json = nlohmann::ordered_json;

struct Row {
  std::string kind;  // projection | stream
  projector::Checkpoint cp;
};

// Rows of one checkpoint table; nullopt when the database or table does not exist.
std::optional<std::vector<Row>> load_rows(const config::DbOptions& db, const std::string& table,
                                          const std::string& kind) {
  auto checkpoints = projector::read_checkpoints(db, table);
  if (!checkpoints) return std::nullopt;
  std::vector<Row> rows;
  for (auto& c : *checkpoints) rows.push_back(Row{kind, std::move(c)});
  return rows;
}

std::uint64_t store_head(const config::DbOptions& store_db, std::uint64_t fallback) {
  try {
    return static_cast<std::uint64_t>(
        store::Connection::open(store_db)->query_int("SELECT MAX(global_seq) FROM events").value_or(0));
  } catch (const sql::SQLException&) {
    return fallback;  // the store is not reachable: the head the projector saw last
  }
}

std::string fmt(double v, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", precision, v);
  return buf;
}

int status(const config::DbOptions& query_db, const config::DbOptions& store_db, bool as_json) {
  std::vector<Row> rows;
  auto q = load_rows(query_db, projector::kQueryCheckpointTable, "projection");
  auto s = load_rows(store_db, projector::kStreamCheckpointTable, "stream");
  if (q) rows.insert(rows.end(), q->begin(), q->end());
  if (s) rows.insert(rows.end(), s->begin(), s->end());
  std::uint64_t seen = 0;
  for (const auto& r : rows) seen = std::max(seen, r.cp.head.value());
  const std::uint64_t head = store_head(store_db, seen);
  const auto now = unix_now_us();
  if (!as_json) {
    std::cout << std::left << std::setw(28) << "NAME" << std::setw(11) << "KIND" << std::setw(11) << "STATE"
              << std::right << std::setw(12) << "POSITION" << std::setw(12) << "HEAD" << std::setw(10) << "LAG"
              << std::setw(11) << "EVENTS" << std::setw(10) << "RATE/s" << std::setw(9) << "ETA" << std::setw(10)
              << "UPDATED" << "  ERROR\n";
  }
  for (const auto& row : rows) {
    const auto& r = row.cp;
    const std::uint64_t lag = head > r.position.value() ? head - r.position.value() : 0;
    const double age_s = static_cast<double>(now - r.updated_at_us) / 1e6;
    const std::optional<double> eta = projector::rebuild_eta_seconds(r, GlobalSeq(head));
    std::string state = r.state + (r.rebuild_requested ? "*" : "");
    if (as_json) {
      json j{{"name", r.projection},
             {"kind", row.kind},
             {"state", r.state},
             {"position", r.position.value()},
             {"head", head},
             {"lag", lag},
             {"events_applied", r.events_applied},
             {"rate", r.rate},
             {"rebuild_from_head", r.rebuild_from_head.value()},
             {"rebuild_requested", r.rebuild_requested},
             {"definition_hash", r.definition_hash},
             {"updated_s_ago", age_s}};
      if (eta) j["eta_s"] = *eta;
      if (!r.error.empty()) j["error"] = r.error;
      std::cout << j.dump() << "\n";
    } else {
      std::cout << std::left << std::setw(28) << r.projection << std::setw(11) << row.kind << std::setw(11) << state
                << std::right << std::setw(12) << r.position.value() << std::setw(12) << head << std::setw(10) << lag
                << std::setw(11) << r.events_applied << std::setw(10) << fmt(r.rate, 0) << std::setw(9)
                << (eta ? fmt(*eta, 0) + "s" : std::string("-")) << std::setw(10) << (fmt(age_s, 0) + "s ago")
                << "  " << r.error.substr(0, 200) << "\n";
    }
  }
  if (!q && !s) {
    std::cerr << "evenctl: no checkpoint tables in query database '" << query_db.name << "' nor in store '"
              << store_db.name << "'\n";
    return 1;
  }
  if (!as_json && rows.empty()) std::cout << "(no projections)\n";
  return 0;
}

int rebuild(const std::string& name, const config::DbOptions& query_db, const config::DbOptions& store_db, bool stream,
            bool wait, int wait_s) {
  const config::DbOptions& db = stream ? store_db : query_db;
  const std::string table = stream ? projector::kStreamCheckpointTable : projector::kQueryCheckpointTable;
  if (!projector::request_rebuild(db, name, table)) {
    std::cerr << "evenctl: no " << (stream ? "projection stream" : "projection") << " '" << name << "' in "
              << table << " of database '" << db.name << "'" << (stream ? "" : " (a projection stream? add --stream)")
              << "\n";
    return 3;
  }
  std::cerr << "rebuild of '" << name << "' requested; a running projector starts it within its progress interval\n";
  if (!wait) return 0;
  // Done when the flag was taken, the reset happened and the replay reached the head it started at.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
  bool taken = false;
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto cp = projector::read_checkpoint(db, name, table);  // MySQL or PostgreSQL, by db.url
    if (!cp) continue;
    if (cp->state == "failed") {
      std::cerr << "evenctl: the rebuild failed: " << cp->error << "\n";
      return 1;
    }
    if (!cp->rebuild_requested) taken = true;
    if (taken && cp->state == "running" && cp->position >= cp->rebuild_from_head) {
      std::cout << json{{"name", name}, {"state", cp->state}, {"position", cp->position.value()},
                        {"events_applied", cp->events_applied}}.dump()
                << "\n";
      return 0;
    }
  }
  std::cerr << "evenctl: the rebuild did not finish within " << wait_s << " s (is a projector running it?)\n";
  return 1;
}

}  // namespace

int cmd_projection(int argc, char** argv) {
  config::DbOptions store_db, query_db;
  config::QueryDbFlags query_flags;
  std::vector<std::string> words;
  bool as_json = false, stream = false, wait = false;
  int wait_s = 600;
  po::options_description desc("evenctl projection options");
  desc.add_options()
      ("what", po::value(&words)->multitoken(), "status | rebuild NAME")
      ("json", po::bool_switch(&as_json), "status: JSON lines instead of a table")
      ("stream", po::bool_switch(&stream), "rebuild: NAME is a projection stream (in the event store)")
      ("wait", po::bool_switch(&wait), "rebuild: wait until the replay reached the head")
      ("wait-s", po::value(&wait_s)->default_value(wait_s), "rebuild --wait: give up after this many seconds");
  config::add_query_db_options(desc, query_db, query_flags);
  config::add_db_options(desc, store_db);
  po::positional_options_description pos;
  pos.add("what", -1);
  const char* usage =
      "Usage: evenctl projection status [--json] [--query-db-name DB] [--db-...]\n"
      "       evenctl projection rebuild NAME [--stream] [--wait] [--query-db-name DB] [--db-...]";
  auto vm = config::parse(argc, argv, desc, usage, &pos);
  if (!vm) return 0;
  config::finish_query_db(query_db, store_db, query_flags);
  if (words.size() == 1 && words[0] == "status") return status(query_db, store_db, as_json);
  if (words.size() == 2 && words[0] == "rebuild") return rebuild(words[1], query_db, store_db, stream, wait, wait_s);
  throw po::error(usage);
}

int cmd_read_projection(int argc, char** argv) {
  client::ClientOptions co;
  int timeout_ms = 0;
  std::vector<std::string> words;
  std::int64_t from = 1;
  std::size_t max = std::numeric_limits<std::size_t>::max();
  po::options_description desc("evenctl read-projection options");
  desc.add_options()
      ("name", po::value(&words)->multitoken(), "the projection stream")
      ("from", po::value(&from)->default_value(from), "first projection sequence")
      ("max", po::value(&max), "print at most this many events");
  add_client_options(desc, co, timeout_ms);
  po::positional_options_description pos;
  pos.add("name", -1);
  auto vm = config::parse(argc, argv, desc, "Usage: evenctl read-projection NAME [--from N] [--max N] [options]", &pos);
  if (!vm) return 0;
  finish_client_options(co, timeout_ms);
  if (words.size() != 1) throw po::error("usage: evenctl read-projection NAME [--from N] [--max N]");
  if (from < 1) throw po::error("--from: projection sequences start at 1");
  client::Client c(co);
  return guarded([&] {
    auto events = c.read_projection(words[0], ProjectionSeq(from), max);
    while (const auto* e = events.next()) print_event_json(*e, events.seq());
    return 0;
  });
}

}  // namespace even::ctl
