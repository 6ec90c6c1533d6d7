#include "projector/checkpoints.h"
#include "even/common/types.h"

#include <chrono>
#include <cstdio>
#include <thread>

namespace even::projector {

void CheckpointTable::ensure() {
  // Runners of one database start together; PostgreSQL's CREATE TABLE IF NOT EXISTS can still
  // fail on a concurrent create of the same table (a unique violation in its catalog). The second
  // try finds the table.
  for (int attempt = 1;; ++attempt) {
    try {
      conn_.execute(conn_.dialect().checkpoint_table_ddl(table_));
      return;
    } catch (const std::exception& e) {
      if (attempt == 3 || conn_.dialect().classify(e) != QueryErrorKind::other) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
    }
  }
}

std::string CheckpointTable::quoted(const std::string& text) const {
  std::string out;
  conn_.dialect().append_quoted(out, text);
  return out;
}

std::string CheckpointTable::where(const std::string& projection) const {
  return " WHERE projection = " + quoted(projection);
}

namespace {
constexpr const char* kColumns =
    "projection, position, definition_hash, state, events_applied, head, rate, rebuild_from_head, rebuild_requested, "
    "COALESCE(error, ''), updated_at_us";

Checkpoint read_row(const QueryRow& row) {
  auto text = [&](std::size_t i) { return i < row.size() && row[i] ? *row[i] : std::string(); };
  auto u64 = [&](std::size_t i) { return i < row.size() && row[i] ? std::stoull(*row[i]) : 0ull; };
  Checkpoint c;
  c.projection = text(0);
  c.position = GlobalSeq(u64(1));
  c.definition_hash = text(2);
  c.state = text(3);
  c.events_applied = u64(4);
  c.head = GlobalSeq(u64(5));
  c.rate = row.size() > 6 && row[6] ? std::stod(*row[6]) : 0.0;
  c.rebuild_from_head = GlobalSeq(u64(7));
  c.rebuild_requested = u64(8) != 0;
  c.error = text(9);
  c.updated_at_us = row.size() > 10 && row[10] ? std::stoll(*row[10]) : 0;
  return c;
}

// An error text fit for a TEXT column of either server: NUL bytes and invalid UTF-8 from a
// server's message would make the UPDATE fail; they become '?'.
std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= text.size() && c != 0;
    for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(text[i + k]) >> 6) == 2;
    if (ok) {
      out.append(text, i, len);
      i += len;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

std::string rate_text(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", rate);
  return buf;
}
}  // namespace

std::optional<Checkpoint> CheckpointTable::load(const std::string& projection) {
  const auto rows = conn_.query(std::string("SELECT ") + kColumns + " FROM " + conn_.dialect().identifier(table_) + where(projection));
  if (rows.empty()) return std::nullopt;
  return read_row(rows.front());
}

std::vector<Checkpoint> CheckpointTable::load_all() {
  std::vector<Checkpoint> out;
  for (const auto& row : conn_.query(std::string("SELECT ") + kColumns + " FROM " + conn_.dialect().identifier(table_) +
                                     " ORDER BY projection"))
    out.push_back(read_row(row));
  return out;
}

void CheckpointTable::begin_reset(const std::string& projection, const std::string& hash, GlobalSeq head) {
  std::string sql = "INSERT INTO " + conn_.dialect().identifier(table_) +
                    " (projection, position, definition_hash, state, events_applied, head, rate, rebuild_from_head,"
                    " rebuild_requested, error, updated_at_us) VALUES (";
  const auto& d = conn_.dialect();
  sql += quoted(projection) + ", 0, " + quoted(hash);
  const std::string h = std::to_string(head.value()), t = std::to_string(unix_now_us());
  sql += ", 'resetting', 0, " + h + ", 0, " + h + ", 0, NULL, " + t + ") " + d.on_conflict_update("projection") +
         " position = 0, definition_hash = " + d.inserted("definition_hash") + ", state = 'resetting',"
         " events_applied = 0, head = " + d.inserted("head") + ", rate = 0, rebuild_from_head = " +
         d.inserted("rebuild_from_head") + ", rebuild_requested = 0, error = NULL, updated_at_us = " +
         d.inserted("updated_at_us");
  conn_.execute(sql);
}

void CheckpointTable::set_state(const std::string& projection, const std::string& state, const std::string& error) {
  std::string sql = "UPDATE " + conn_.dialect().identifier(table_) + " SET state = " + quoted(state) + ", error = ";
  sql += error.empty() ? std::string("NULL") : quoted(printable(error.substr(0, 60000)));
  sql += ", updated_at_us = " + std::to_string(unix_now_us()) + where(projection);
  conn_.execute(sql);
}

bool CheckpointTable::rebuild_requested(const std::string& projection) {
  return conn_.query_int("SELECT rebuild_requested FROM " + conn_.dialect().identifier(table_) + where(projection)).value_or(0) != 0;
}

bool CheckpointTable::request_rebuild(const std::string& projection) {
  conn_.execute("UPDATE " + conn_.dialect().identifier(table_) + " SET rebuild_requested = 1" + where(projection));
  return load(projection).has_value();
}

std::string CheckpointTable::update_sql(const std::string& projection, GlobalSeq position,
                                        std::uint64_t applied_in_batch, GlobalSeq head, double rate,
                                        const std::string& state) const {
  std::string sql = "UPDATE " + conn_.dialect().identifier(table_) + " SET position = " + std::to_string(position.value()) +
                    ", events_applied = events_applied + " + std::to_string(applied_in_batch) +
                    ", head = GREATEST(head, " + std::to_string(head.value()) + "), rate = " + rate_text(rate) +
                    ", state = " + quoted(state);
  sql += ", error = NULL, updated_at_us = " + std::to_string(unix_now_us()) + where(projection);
  return sql;
}

std::optional<Checkpoint> read_checkpoint(store::Connection& conn, const std::string& projection,
                                          const std::string& table) {
  return read_checkpoint(*borrow_mysql(conn), projection, table);
}

std::optional<Checkpoint> read_checkpoint(QueryConnection& conn, const std::string& projection,
                                          const std::string& table) {
  try {
    return CheckpointTable(conn, table).load(projection);
  } catch (const std::exception& e) {
    if (conn.dialect().classify(e) == QueryErrorKind::missing) return std::nullopt;
    throw;
  }
}

std::optional<Checkpoint> read_checkpoint(const config::DbOptions& db, const std::string& projection,
                                          const std::string& table) {
  const auto& d = query_dialect(db.url);
  try {
    return read_checkpoint(*d.open(db), projection, table);
  } catch (const std::exception& e) {
    if (d.classify(e) == QueryErrorKind::missing) return std::nullopt;
    throw;
  }
}

std::optional<std::vector<Checkpoint>> read_checkpoints(const config::DbOptions& db, const std::string& table) {
  const auto& d = query_dialect(db.url);
  try {
    auto conn = d.open(db);
    return CheckpointTable(*conn, table).load_all();
  } catch (const std::exception& e) {
    if (d.classify(e) == QueryErrorKind::missing) return std::nullopt;
    throw;
  }
}

bool request_rebuild(const config::DbOptions& db, const std::string& projection, const std::string& table) {
  const auto& d = query_dialect(db.url);
  try {
    auto conn = d.open(db);
    return CheckpointTable(*conn, table).request_rebuild(projection);
  } catch (const std::exception& e) {
    if (d.classify(e) == QueryErrorKind::missing) return false;
    throw;
  }
}

std::optional<double> rebuild_eta_seconds(const Checkpoint& cp, GlobalSeq head) {
  if (cp.state != "rebuilding" || cp.rate <= 0 || cp.position.value() == 0 || cp.events_applied == 0) return std::nullopt;
  const std::uint64_t lag = head.value() > cp.position.value() ? head.value() - cp.position.value() : 0;
  // events still to apply, estimated from the share of matching events so far
  const double share = static_cast<double>(cp.events_applied) / static_cast<double>(cp.position.value());
  return share * static_cast<double>(lag) / cp.rate;
}

std::string CheckpointTable::reset_done_sql(const std::string& projection) const {
  return "UPDATE " + conn_.dialect().identifier(table_) + " SET state = 'rebuilding', updated_at_us = " +
         std::to_string(unix_now_us()) + where(projection);
}

}  // namespace even::projector
