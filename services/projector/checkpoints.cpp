#include "projector/checkpoints.h"

#include <chrono>
#include <cstdio>

namespace even::projector {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string checkpoint_table_ddl(const std::string& table) {
  // Keep in step with migration 2 in common/src/store/schema.cpp (projection_stream_checkpoints).
  return "CREATE TABLE IF NOT EXISTS " + store::identifier(table) +
         " (projection VARCHAR(190) NOT NULL, position BIGINT UNSIGNED NOT NULL, definition_hash VARCHAR(64) NOT NULL,"
         " state VARCHAR(16) NOT NULL, events_applied BIGINT UNSIGNED NOT NULL DEFAULT 0,"
         " head BIGINT UNSIGNED NOT NULL DEFAULT 0, rate DOUBLE NOT NULL DEFAULT 0,"
         " rebuild_from_head BIGINT UNSIGNED NOT NULL DEFAULT 0, rebuild_requested TINYINT NOT NULL DEFAULT 0,"
         " error TEXT NULL, updated_at_us BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (projection)) ENGINE=InnoDB";
}

void CheckpointTable::ensure() { conn_.execute(checkpoint_table_ddl(table_)); }

std::string CheckpointTable::where(const std::string& projection) const {
  std::string w = " WHERE projection = ";
  store::append_quoted(w, projection);
  return w;
}

namespace {
constexpr const char* kColumns =
    "projection, position, definition_hash, state, events_applied, head, rate, rebuild_from_head, rebuild_requested, "
    "COALESCE(error, ''), updated_at_us";

Checkpoint read_row(sql::ResultSet& rs) {
  Checkpoint c;
  c.projection = rs.getString(1);
  c.position = GlobalSeq(rs.getUInt64(2));
  c.definition_hash = rs.getString(3);
  c.state = rs.getString(4);
  c.events_applied = rs.getUInt64(5);
  c.head = GlobalSeq(rs.getUInt64(6));
  c.rate = static_cast<double>(rs.getDouble(7));
  c.rebuild_from_head = GlobalSeq(rs.getUInt64(8));
  c.rebuild_requested = rs.getInt(9) != 0;
  c.error = rs.getString(10);
  c.updated_at_us = rs.getInt64(11);
  return c;
}

std::string rate_text(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", rate);
  return buf;
}
}  // namespace

std::optional<Checkpoint> CheckpointTable::load(const std::string& projection) {
  auto rs = conn_.query(std::string("SELECT ") + kColumns + " FROM " + store::identifier(table_) + where(projection));
  if (!rs->next()) return std::nullopt;
  return read_row(*rs);
}

std::vector<Checkpoint> CheckpointTable::load_all() {
  auto rs = conn_.query(std::string("SELECT ") + kColumns + " FROM " + store::identifier(table_) + " ORDER BY projection");
  std::vector<Checkpoint> out;
  while (rs->next()) out.push_back(read_row(*rs));
  return out;
}

void CheckpointTable::begin_reset(const std::string& projection, const std::string& hash, GlobalSeq head) {
  std::string sql = "INSERT INTO " + store::identifier(table_) +
                    " (projection, position, definition_hash, state, events_applied, head, rate, rebuild_from_head,"
                    " rebuild_requested, error, updated_at_us) VALUES (";
  store::append_quoted(sql, projection);
  sql += ", 0, ";
  store::append_quoted(sql, hash);
  const std::string h = std::to_string(head.value()), t = std::to_string(now_us());
  sql += ", 'resetting', 0, " + h + ", 0, " + h + ", 0, NULL, " + t +
         ") ON DUPLICATE KEY UPDATE position = 0, definition_hash = VALUES(definition_hash), state = 'resetting',"
         " events_applied = 0, head = VALUES(head), rate = 0, rebuild_from_head = VALUES(rebuild_from_head),"
         " rebuild_requested = 0, error = NULL, updated_at_us = VALUES(updated_at_us)";
  conn_.execute(sql);
}

void CheckpointTable::set_state(const std::string& projection, const std::string& state, const std::string& error) {
  std::string sql = "UPDATE " + store::identifier(table_) + " SET state = ";
  store::append_quoted(sql, state);
  sql += ", error = ";
  if (error.empty()) {
    sql += "NULL";
  } else {
    store::append_quoted(sql, error.substr(0, 60000));
  }
  sql += ", updated_at_us = " + std::to_string(now_us()) + where(projection);
  conn_.execute(sql);
}

bool CheckpointTable::rebuild_requested(const std::string& projection) {
  return conn_.query_int("SELECT rebuild_requested FROM " + store::identifier(table_) + where(projection)).value_or(0) != 0;
}

bool CheckpointTable::request_rebuild(const std::string& projection) {
  conn_.execute("UPDATE " + store::identifier(table_) + " SET rebuild_requested = 1" + where(projection));
  return load(projection).has_value();
}

std::string CheckpointTable::update_sql(const std::string& projection, GlobalSeq position,
                                        std::uint64_t applied_in_batch, GlobalSeq head, double rate,
                                        const std::string& state) const {
  std::string sql = "UPDATE " + store::identifier(table_) + " SET position = " + std::to_string(position.value()) +
                    ", events_applied = events_applied + " + std::to_string(applied_in_batch) +
                    ", head = GREATEST(head, " + std::to_string(head.value()) + "), rate = " + rate_text(rate) +
                    ", state = ";
  store::append_quoted(sql, state);
  sql += ", error = NULL, updated_at_us = " + std::to_string(now_us()) + where(projection);
  return sql;
}

namespace {
bool is_missing_table(const sql::SQLException& e) {
  return e.getErrorCode() == store::kErBadDb || e.getErrorCode() == store::kErNoSuchTable;
}
}  // namespace

std::optional<Checkpoint> read_checkpoint(store::Connection& conn, const std::string& projection,
                                          const std::string& table) {
  try {
    return CheckpointTable(conn, table).load(projection);
  } catch (const sql::SQLException& e) {
    if (is_missing_table(e)) return std::nullopt;
    throw;
  }
}

std::optional<std::vector<Checkpoint>> read_checkpoints(const config::DbOptions& db, const std::string& table) {
  try {
    auto conn = store::Connection::open(db);
    return CheckpointTable(*conn, table).load_all();
  } catch (const sql::SQLException& e) {
    if (is_missing_table(e)) return std::nullopt;
    throw;
  }
}

bool request_rebuild(const config::DbOptions& db, const std::string& projection, const std::string& table) {
  try {
    auto conn = store::Connection::open(db);
    return CheckpointTable(*conn, table).request_rebuild(projection);
  } catch (const sql::SQLException& e) {
    if (is_missing_table(e)) return false;
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
  return "UPDATE " + store::identifier(table_) + " SET state = 'rebuilding', updated_at_us = " +
         std::to_string(now_us()) + where(projection);
}

}  // namespace even::projector
