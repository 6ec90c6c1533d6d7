#include "even/common/store/schema.h"

#include <stdexcept>

#include "even/common/store/mysql.h"

namespace even::store {

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kMigrations = {
      {1,
       "events and streams",
       {
           // Names and types are byte strings (validated charset), compared byte-wise.
           R"(CREATE TABLE IF NOT EXISTS events (
                global_seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
                event_id BINARY(16) NOT NULL,
                stream VARBINARY(200) NOT NULL,
                stream_seq BIGINT NOT NULL,
                category VARBINARY(200) NOT NULL,
                event_type VARBINARY(200) NOT NULL,
                created_at_us BIGINT NOT NULL,
                metadata MEDIUMBLOB NOT NULL,
                payload LONGBLOB NOT NULL,
                payload_format TINYINT UNSIGNED NOT NULL,
                PRIMARY KEY (global_seq),
                UNIQUE KEY ux_events_event_id (event_id),
                UNIQUE KEY ux_events_stream_seq (stream, stream_seq),
                KEY ix_events_category (category, global_seq),
                KEY ix_events_type (event_type, global_seq)
              ) ENGINE=InnoDB)",
           R"(CREATE TABLE IF NOT EXISTS streams (
                stream VARBINARY(200) NOT NULL,
                version BIGINT NOT NULL,
                deleted TINYINT NOT NULL DEFAULT 0,
                updated_at_us BIGINT NOT NULL,
                PRIMARY KEY (stream)
              ) ENGINE=InnoDB)",
       }},
      {2,
       "projection streams: the index and its checkpoints (services/projector/README.md)",
       {
           // Stream k of projection `name` is the event at global_seq; seq runs 1, 2, 3 ... per name.
           R"(CREATE TABLE IF NOT EXISTS projection_streams (
                name VARBINARY(200) NOT NULL,
                seq BIGINT NOT NULL,
                global_seq BIGINT UNSIGNED NOT NULL,
                PRIMARY KEY (name, seq),
                UNIQUE KEY ux_projection_streams_global_seq (name, global_seq)
              ) ENGINE=InnoDB)",
           // Same columns as a query database's even_checkpoints (services/projector/checkpoints.h).
           R"(CREATE TABLE IF NOT EXISTS projection_stream_checkpoints (
                projection VARCHAR(190) NOT NULL,
                position BIGINT UNSIGNED NOT NULL,
                definition_hash VARCHAR(64) NOT NULL,
                state VARCHAR(16) NOT NULL,
                events_applied BIGINT UNSIGNED NOT NULL DEFAULT 0,
                head BIGINT UNSIGNED NOT NULL DEFAULT 0,
                rate DOUBLE NOT NULL DEFAULT 0,
                rebuild_from_head BIGINT UNSIGNED NOT NULL DEFAULT 0,
                rebuild_requested TINYINT NOT NULL DEFAULT 0,
                error TEXT NULL,
                updated_at_us BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (projection)
              ) ENGINE=InnoDB)",
       }},
      {3,
       "stream versions from events: streams keeps one row per stream, written when it is created",
       {
           // A stream's version is MAX(stream_seq) in events (the writer caches it while it holds
           // the master lock, services/writer/README.md); streams holds what only it can: the
           // stream's existence from its first append on, its deleted flag, metadata to come.
           "ALTER TABLE streams DROP COLUMN version",
       }},
      {4,
       "stream lifecycle: delete, tombstone, truncate, max-count/max-age (services/writer/README.md)",
       {
           // deleted (soft) and tombstoned (hard) hide the whole stream; truncate_before hides the
           // stream_seq below it (a delete sets it to the version + 1, so a stream that is started
           // again shows only its new events) and is also the floor of the stream's version once a
           // scavenge removed its last events; max_count / max_age_us (NULL: no limit) hide all but
           // the last max_count events / the events older than max_age_us at the time of a read.
           "ALTER TABLE streams ADD COLUMN tombstoned TINYINT NOT NULL DEFAULT 0, "
           "ADD COLUMN truncate_before BIGINT NOT NULL DEFAULT 0, ADD COLUMN max_count BIGINT NULL, "
           "ADD COLUMN max_age_us BIGINT NULL",
       }},
      {5,
       "persistent subscription groups: settings and checkpoints (services/groups/README.md)",
       {
           // One row per group. checkpoint: every matching event at or below it is settled (acked,
           // skipped or parked). replay_*: the parked stream's positions handed out again by
           // replay-parked (replay_to: settled up to; replay_until: the end of the replay asked for).
           R"(CREATE TABLE IF NOT EXISTS subscription_groups (
                name VARBINARY(100) NOT NULL,
                source_kind TINYINT UNSIGNED NOT NULL,
                source_value VARBINARY(200) NOT NULL,
                max_retries INT UNSIGNED NOT NULL,
                ack_timeout_ms INT UNSIGNED NOT NULL,
                max_in_flight INT UNSIGNED NOT NULL,
                ordering TINYINT UNSIGNED NOT NULL,
                start_from BIGINT UNSIGNED NOT NULL DEFAULT 0,
                checkpoint BIGINT UNSIGNED NOT NULL DEFAULT 0,
                parked BIGINT UNSIGNED NOT NULL DEFAULT 0,
                replay_to BIGINT NOT NULL DEFAULT 0,
                replay_until BIGINT NOT NULL DEFAULT 0,
                created_at_us BIGINT NOT NULL,
                updated_at_us BIGINT NOT NULL,
                PRIMARY KEY (name)
              ) ENGINE=InnoDB)",
       }},
      {6,
       "lifecycle clock: read-all pages hide lifecycles without joining streams (services/reader/README.md)",
       {
           // lifecycle_clock.seq counts the writer's lifecycle changes (one row, bumped in the
           // change's transaction); streams.changed_seq is the count at the stream's last change
           // (0: never changed). A reader keeps the few streams whose lifecycle hides something and
           // reads again only those changed since the count it last saw.
           R"(CREATE TABLE IF NOT EXISTS lifecycle_clock (
                id TINYINT UNSIGNED NOT NULL,
                seq BIGINT UNSIGNED NOT NULL,
                PRIMARY KEY (id)
              ) ENGINE=InnoDB)",
           "ALTER TABLE streams ADD COLUMN changed_seq BIGINT UNSIGNED NOT NULL DEFAULT 0, "
           "ADD KEY ix_streams_changed_seq (changed_seq)",
           // Lifecycles set before this version count as change 1.
           "UPDATE streams SET changed_seq = 1 WHERE deleted <> 0 OR tombstoned <> 0 OR truncate_before > 1 OR "
           "max_count IS NOT NULL OR max_age_us IS NOT NULL",
           "INSERT IGNORE INTO lifecycle_clock (id, seq) SELECT 1, COALESCE(MAX(changed_seq), 0) FROM streams",
       }},
  };
  return kMigrations;
}

int latest_schema_version() { return migrations().back().version; }

namespace {
int read_version(Connection& c) {
  auto v = c.query_int("SELECT CAST(v AS SIGNED) FROM even_meta WHERE k = 'schema_version'");
  return v ? static_cast<int>(*v) : 0;
}
}  // namespace

InitResult init_store(const DbOptions& db) {
  auto server = Connection::open(db, /*select_database=*/false);
  server->execute("CREATE DATABASE IF NOT EXISTS " + identifier(db.name) +
                  " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
  server->execute("USE " + identifier(db.name));
  server->execute(
      "CREATE TABLE IF NOT EXISTS even_meta (k VARCHAR(64) NOT NULL PRIMARY KEY, v VARCHAR(255) NOT NULL) "
      "ENGINE=InnoDB");
  // Serialise concurrent init runs.
  server->query_int("SELECT GET_LOCK(CONCAT('even-init:', DATABASE()), 30)");
  InitResult r{read_version(*server), 0};
  if (r.from_version > latest_schema_version()) {
    server->query_int("SELECT RELEASE_LOCK(CONCAT('even-init:', DATABASE()))");
    throw std::runtime_error("store '" + db.name + "' has schema version " + std::to_string(r.from_version) +
                             ", newer than this program's " + std::to_string(latest_schema_version()) +
                             "; upgrade Even");
  }
  for (const auto& m : migrations()) {
    if (m.version <= r.from_version) continue;
    for (const auto& stmt : m.statements) server->execute(stmt);  // DDL commits implicitly
    server->execute("REPLACE INTO even_meta (k, v) VALUES ('schema_version', '" + std::to_string(m.version) + "')");
  }
  r.to_version = read_version(*server);
  server->query_int("SELECT RELEASE_LOCK(CONCAT('even-init:', DATABASE()))");
  return r;
}

int schema_version(const DbOptions& db) {
  try {
    auto c = Connection::open(db, /*select_database=*/true);
    return read_version(*c);
  } catch (const sql::SQLException& e) {
    if (e.getErrorCode() == kErBadDb || e.getErrorCode() == 1146 /* no such table */) return 0;
    throw;
  }
}

}  // namespace even::store
