// MariaDB replication for Even's high availability (README "Replication and failover"): making a
// replica the primary, making a server follow a primary, and a replica's lag. Each call runs on a
// connection the caller owns (as a user with the SUPER / REPLICATION privileges; not the
// services' least-privilege users). Throws sql::SQLException when the server refuses.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "even/common/store/mysql.h"

namespace even::store {

// Whether the server of `c` is read-only now (@@read_only): a replica, or a primary fenced or
// demoted. Connection::open takes the first server of a url list that is not.
bool is_read_only(Connection& c);

// Promotes the server of `c` (a replica): stops receiving (STOP SLAVE IO_THREAD) and waits until
// the SQL thread applied every transaction received, which the replica acknowledged to its
// primary and so may have been acknowledged to clients (throws std::runtime_error when the SQL
// thread does not run or does not finish within apply_timeout); then STOP SLAVE, RESET SLAVE ALL
// (it forgets its primary),
// semi-sync slave off and master on (commits wait for a replica's ack again, AFTER_SYNC), and
// read_only OFF, last: writers that look for the writable server of their list find it then.
// The old primary must be down or fenced first (read_only), or two servers take writes: unless
// `force`, a replica whose receiving thread still runs after 3 s (Slave_IO_Running=Yes: its
// primary is alive) is refused with std::runtime_error, before anything changes.
void promote_to_primary(Connection& c, bool force = false,
                        std::chrono::seconds apply_timeout = std::chrono::seconds(600));

// Makes the server of `c` a read-only semi-sync replica of host:port (GTID replication from its
// slave position, or, for an old primary that rejoins, its own binlog position: current_pos).
void follow_primary(Connection& c, const std::string& host, int port, const std::string& user,
                    const std::string& password, bool from_current_pos = false);

// The server's replication state, for metrics: nullopt when it is not a replica (no SLAVE
// STATUS) or the user may not see it; else Seconds_Behind_Master (-1 when the replica threads are
// not running: the lag is unknown).
std::optional<std::int64_t> replica_lag_seconds(Connection& c);

}  // namespace even::store
