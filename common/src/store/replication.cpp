#include "even/common/store/replication.h"

namespace even::store {

void promote_to_primary(Connection& c) {
  c.execute("STOP SLAVE");
  c.execute("RESET SLAVE ALL");
  c.execute("SET GLOBAL rpl_semi_sync_slave_enabled = OFF");
  c.execute("SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC");
  c.execute("SET GLOBAL rpl_semi_sync_master_enabled = ON");
  c.execute("SET GLOBAL read_only = OFF");
}

void follow_primary(Connection& c, const std::string& host, int port, const std::string& user,
                    const std::string& password, bool from_current_pos) {
  c.execute("STOP SLAVE");
  c.execute("SET GLOBAL read_only = ON");
  c.execute("SET GLOBAL rpl_semi_sync_master_enabled = OFF");
  c.execute("SET GLOBAL rpl_semi_sync_slave_enabled = ON");
  std::string sql = "CHANGE MASTER TO MASTER_HOST = ";
  append_quoted(sql, host);
  sql += ", MASTER_PORT = " + std::to_string(port) + ", MASTER_USER = ";
  append_quoted(sql, user);
  sql += ", MASTER_PASSWORD = ";
  append_quoted(sql, password);
  sql += std::string(", MASTER_USE_GTID = ") + (from_current_pos ? "current_pos" : "slave_pos") +
         ", MASTER_CONNECT_RETRY = 1, MASTER_HEARTBEAT_PERIOD = 1";
  c.execute(sql);
  c.execute("START SLAVE");
}

std::optional<std::int64_t> replica_lag_seconds(Connection& c) {
  try {
    auto rs = c.query("SHOW SLAVE STATUS");
    if (!rs->next()) return std::nullopt;
    if (rs->isNull("Seconds_Behind_Master")) return -1;
    return rs->getInt64("Seconds_Behind_Master");
  } catch (const sql::SQLException& e) {
    if (is_connection_lost(e)) throw;
    return std::nullopt;  // no privilege to see it
  }
}

}  // namespace even::store
