#include "even/common/store/replication.h"

#include <stdexcept>
#include <thread>

namespace even::store {

bool is_read_only(Connection& c) { return c.query_int("SELECT @@read_only").value_or(0) != 0; }

void promote_to_primary(Connection& c, bool force, std::chrono::seconds apply_timeout) {
  // A replica whose receiving thread still runs has a live primary: promoting it beside that
  // primary makes two writable servers. A primary that just died is noticed within moments.
  for (const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3); !force;) {
    auto rs = c.query("SHOW SLAVE STATUS");
    if (!rs->next() || std::string(rs->getString("Slave_IO_Running").c_str()) != "Yes") break;
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("refusing to promote " + c.url() + ": it still receives from its primary " +
                               std::string(rs->getString("Master_Host").c_str()) + ":" +
                               std::to_string(rs->getInt("Master_Port")) +
                               " (Slave_IO_Running=Yes), which is alive: stop it or fence it (SET GLOBAL "
                               "read_only = 1) and pass --force");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // What the replica received it acknowledged (semi-sync), so clients may hold it as written:
  // apply all of it before the relay log is dropped. Receiving stops first.
  c.execute("STOP SLAVE IO_THREAD");
  const auto deadline = std::chrono::steady_clock::now() + apply_timeout;
  for (;;) {
    auto rs = c.query("SHOW SLAVE STATUS");
    if (!rs->next()) break;  // not a replica
    const std::string sql_running(rs->getString("Slave_SQL_Running").c_str());
    const std::string state(rs->getString("Slave_SQL_Running_State").c_str());
    if (sql_running != "Yes")
      throw std::runtime_error("the replica's SQL thread does not run (" + std::string(rs->getString("Last_SQL_Error").c_str()) +
                               "): it cannot apply the transactions it received; fix and START SLAVE SQL_THREAD, or "
                               "promote another replica");
    if (state.rfind("Slave has read all relay log", 0) == 0) break;
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("the replica has not applied its relay log within " +
                               std::to_string(apply_timeout.count()) + " s (state: " + state + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
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
