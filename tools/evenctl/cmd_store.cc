#include <cstdio>
#include <iostream>
#include <stdexcept>

#include <fmt/format.h>

#include "even/common/store/mysql.h"
#include "even/common/store/replication.h"
#include "even/common/store/scavenge.h"
#include "even/common/store/schema.h"
#include "evenctl/commands.h"
#include "evenctl/store_users.h"

namespace even::ctl {

int cmd_store(int argc, char** argv) {
  namespace po = config::po;
  config::DbOptions db;
  UsersOptions users;
  std::vector<std::string> words;
  po::options_description desc("evenctl store options");
  store::ScavengeOptions scavenge;
  long long batch_rows = 1000;  // signed: "-1" must be refused, not read as 2^64 - 1
  long long min_age_s = 60;
  bool force = false;
  desc.add_options()("what", po::value(&words)->multitoken(), "init, users, status, scavenge or promote URL")(
      "batch-rows", po::value(&batch_rows)->default_value(batch_rows),
      "scavenge: rows removed per transaction (>= 1)")(
      "pause-ms", po::value(&scavenge.pause_ms)->default_value(scavenge.pause_ms),
      "scavenge: pause between transactions, to leave more of the store to the writer")(
      "min-age-s", po::value(&min_age_s)->default_value(min_age_s),
      "scavenge: keep rows younger than this many seconds (the dispatcher may not have published them "
      "yet, a client may still resend them)")(
      "force", po::bool_switch(&force),
      "promote even while the replica still receives from its primary (Slave_IO_Running=Yes): only for a "
      "primary that is fenced (read_only) or known dead");
  config::add_db_options(desc, db);
  po::options_description users_desc("users (evenctl store init --users-dir DIR, or evenctl store users --users-dir DIR)");
  add_users_options(users_desc, users);
  desc.add(users_desc);
  po::positional_options_description pos;
  pos.add("what", -1);
  auto vm = config::parse(argc, argv, desc,
                          "Usage: evenctl store init [--users-dir DIR [--query-db NAME]... [--require-tls on|off|auto] "
                          "[--rotate]] [--config FILE] [--db-...]\n"
                          "       evenctl store users --users-dir DIR [...]   (the users alone)\n"
                          "       evenctl store status\n"
                          "       evenctl store promote REPLICA-URL   (make a replica the primary: STOP SLAVE, RESET "
                          "SLAVE ALL, semi-sync master on, read_only OFF; refused while the old primary is alive: stop it, or fence it and "
                          "pass --force)\n"
                          "       evenctl store scavenge [--batch-rows N] [--pause-ms MS] [--min-age-s S]   (progress on stderr)\n"
                          "The users are PREFIX writer, reader, dispatcher and projector_<query db>, each with the "
                          "privileges of its service only; re-running keeps their passwords (--rotate: new ones).",
                          &pos);
  if (!vm) return 0;
  if (words.size() == 2 && words[0] == "promote") {
    const auto urls = store::store_urls(words[1]);
    if (urls.size() != 1) throw po::error("evenctl store promote needs one server url (tcp://HOST:PORT), not '" + words[1] + "'");
    auto c = store::Connection::open(store::at_url(db, urls[0]), false);
    const bool was_replica = store::replica_lag_seconds(*c).has_value();
    store::promote_to_primary(*c, force);
    std::cout << "{\"promoted\":\"" << urls[0] << "\",\"was_replica\":" << (was_replica ? "true" : "false")
              << ",\"gtid_binlog_pos\":\""
              << [&] {
                   auto rs = c->query("SELECT @@gtid_binlog_pos");
                   return rs->next() ? std::string(rs->getString(1).c_str()) : std::string();
                 }()
              << "\"}\n";
    return 0;
  }
  if (words.size() != 1) throw po::error("usage: evenctl store init|users|status|scavenge|promote URL");
  if (words[0] == "scavenge") {
    if (batch_rows < 1 || batch_rows > 1000000) throw po::error("--batch-rows must be 1..1000000");
    scavenge.batch_rows = static_cast<std::size_t>(batch_rows);
    if (scavenge.pause_ms < 0) throw po::error("--pause-ms must be >= 0");
    if (min_age_s < 0 || min_age_s > 100LL * 365 * 24 * 3600) throw po::error("--min-age-s must be 0..3153600000");
    scavenge.min_age_us = min_age_s * 1'000'000;
    scavenge.progress = [](const store::ScavengeProgress& p) {
      std::cerr << fmt::format("scavenge: {}/{} streams, {} of ~{} rows removed, {:.0f} rows/s, ETA {:.0f} s\n",
                               p.streams_done, p.streams_total, p.rows_removed, p.rows_to_remove,
                               p.rows_per_second(), p.eta_seconds());
    };
    auto p = store::scavenge(db, scavenge);
    std::cout << fmt::format("{{\"streams\":{},\"rows_removed\":{},\"seconds\":{:.3f}}}\n", p.streams_total,
                             p.rows_removed, p.seconds);
    return 0;
  }
  if (words[0] == "init") {
    auto r = store::init_store(db);
    std::cout << "{\"database\":\"" << db.name << "\",\"schema_version\":" << r.to_version
              << ",\"previous_version\":" << r.from_version << "}\n";
    if (!users.dir.empty()) create_users(db, users);
    return 0;
  }
  if (words[0] == "users") {
    if (users.dir.empty()) throw po::error("evenctl store users needs --users-dir DIR");
    create_users(db, users);
    return 0;
  }
  if (words[0] == "status") {
    std::cout << "{\"database\":\"" << db.name << "\",\"schema_version\":" << store::schema_version(db)
              << ",\"latest\":" << store::latest_schema_version() << "}\n";
    return 0;
  }
  throw po::error("unknown store command '" + words[0] + "'");
}

}  // namespace even::ctl
