// evenctl store users: the least-privilege MySQL users of the services (store_users.cc).
#pragma once

#include <string>
#include <vector>

#include "even/common/config.h"

namespace even::ctl {

struct UsersOptions {
  std::string dir;                      // where <user>.password files are written (mode 0600)
  std::string prefix = "even_";         // users: PREFIX writer, reader, dispatcher, projector_<query db>
  std::string host = "%";               // the users' host part
  std::vector<std::string> query_dbs;   // one projector user per query database
  std::string require_tls = "auto";     // on, off, auto (= whether this evenctl connects over TLS)
  bool rotate = false;                  // new passwords even where a password file exists
};

void add_users_options(config::po::options_description& desc, UsersOptions& u);
// Creates or updates the users on the server of `db` (an account that may CREATE USER and GRANT,
// e.g. root) with grants on db.name, prints a JSON line per user. Throws on failure.
void create_users(const config::DbOptions& db, const UsersOptions& u);

}  // namespace even::ctl
