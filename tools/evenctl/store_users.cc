#include "evenctl/store_users.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <stdexcept>

#include "even/common/store/mysql.h"

namespace even::ctl {

namespace po = config::po;

namespace {

// What each service's SQL needs (services/*/README.md, "Store access"); GET_LOCK needs no privilege.
struct Account {
  std::string role;                  // writer, reader, dispatcher, projector_<query db>
  std::vector<std::string> grants;   // "PRIVILEGES ON `db`.`table`" clauses
};

std::vector<Account> accounts(const std::string& store, const std::vector<std::string>& query_dbs) {
  const std::string s = store::identifier(store);
  std::vector<Account> out = {
      // Reads events to check versions and ids; inserts events and the streams row of a new
      // stream (INSERT ... ON DUPLICATE KEY UPDATE, hence UPDATE); ticks the lifecycle clock with
      // each lifecycle change; reads even_meta (the schema version) at start.
      {"writer",
       {"SELECT ON " + s + ".*", "INSERT ON " + s + ".`events`", "INSERT, UPDATE ON " + s + ".`streams`",
        "UPDATE ON " + s + ".`lifecycle_clock`"}},
      {"reader", {"SELECT ON " + s + ".*"}},
      // The gap check's locking read (LOCK IN SHARE MODE NOWAIT) needs SELECT only on MariaDB.
      {"dispatcher", {"SELECT ON " + s + ".*"}},
      // Reads events (the groups' sources, the locking head check); keeps the groups' rows
      // (services/groups/README.md). Parked events go through even-writer, not this user.
      {"groups", {"SELECT ON " + s + ".*", "SELECT, INSERT, UPDATE, DELETE ON " + s + ".`subscription_groups`"}},
  };
  for (const auto& q : query_dbs) {
    // Its query database (created by the projector if missing: CREATE on it), and the projection
    // streams it indexes into the event store (services/projector/README.md).
    out.push_back({"projector_" + q,
                   {"ALL PRIVILEGES ON " + store::identifier(q) + ".*",
                    "SELECT, INSERT, UPDATE, DELETE ON " + s + ".`projection_streams`",
                    "SELECT, INSERT, UPDATE, DELETE, CREATE ON " + s + ".`projection_stream_checkpoints`"}});
  }
  return out;
}

std::string random_password() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;  // /dev/urandom (getrandom) with glibc
  std::uniform_int_distribution<int> pick(0, static_cast<int>(sizeof kAlphabet) - 2);
  std::string p;
  for (int i = 0; i < 32; ++i) p.push_back(kAlphabet[pick(rd)]);  // 190 bits
  return p;
}

// Writes `password` to `path` through a temporary file created with mode 0600, then renames it.
void write_password_file(const std::string& path, const std::string& password) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create '" + tmp + "': " + std::strerror(errno));
  const std::string line = password + "\n";
  const bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write '" + path + "': " + std::strerror(ok ? errno : err));
  }
}

void check_host(const std::string& host) {
  if (host.empty() || host.size() > 255) throw po::error("--users-host must be 1..255 characters");
  for (char c : host) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '%' || c == '_' || c == '-' ||
                    c == ':' || c == '/';
    if (!ok) throw po::error("--users-host '" + host + "' may only have letters, digits and . % _ - : /");
  }
}

}  // namespace

void add_users_options(po::options_description& desc, UsersOptions& u) {
  desc.add_options()
      ("users-dir", po::value(&u.dir),
       "create the services' MySQL users and write their passwords to DIR/<user>.password (mode 0600)")
      ("users-prefix", po::value(&u.prefix)->default_value(u.prefix),
       "user names: PREFIX writer, reader, dispatcher, projector_<query db>")
      ("users-host", po::value(&u.host)->default_value(u.host), "the users' host part ('%': any)")
      ("query-db", po::value(&u.query_dbs)->composing(), "a projector user for this query database; repeatable")
      ("require-tls", po::value(&u.require_tls)->default_value(u.require_tls),
       "REQUIRE SSL on each user: on, off, auto (on when this evenctl connects over TLS)")
      ("rotate", po::bool_switch(&u.rotate), "new passwords for every user (default: keep those of existing files)");
}

void create_users(const config::DbOptions& db, const UsersOptions& u) {
  if (u.require_tls != "on" && u.require_tls != "off" && u.require_tls != "auto")
    throw po::error("--require-tls must be on, off or auto");
  check_host(u.host);
  const bool require_tls = u.require_tls == "on" || (u.require_tls == "auto" && store::uses_tls(db));
  std::filesystem::create_directories(u.dir);
  ::chmod(u.dir.c_str(), 0700);
  const auto list = accounts(db.name, u.query_dbs);
  auto conn = store::Connection::open(db, /*select_database=*/false);
  for (const auto& a : list) {
    const std::string name = u.prefix + a.role;
    store::identifier(name);  // letters, digits and _ only
    const std::string path = (std::filesystem::path(u.dir) / (name + ".password")).string();
    std::string password;
    bool kept = false;
    if (!u.rotate && std::filesystem::exists(path)) {
      password = store::read_password_file(path);  // refuses a file readable by others
      kept = !password.empty();
    }
    if (!kept) password = random_password();
    std::string account;
    store::append_quoted(account, name);
    account += "@";
    store::append_quoted(account, u.host);
    std::string quoted_password;
    store::append_quoted(quoted_password, password);
    // The file first: a service that reconnects after ALTER USER finds the new password there.
    if (!kept) write_password_file(path, password);
    conn->execute("CREATE USER IF NOT EXISTS " + account + " IDENTIFIED BY " + quoted_password);
    conn->execute("ALTER USER " + account + " IDENTIFIED BY " + quoted_password + " REQUIRE " +
                  (require_tls ? "SSL" : "NONE"));
    for (const auto& g : a.grants) conn->execute("GRANT " + g + " TO " + account);
    std::cout << "{\"user\":\"" << name << "\",\"host\":\"" << u.host << "\",\"password_file\":\"" << path
              << "\",\"password\":\"" << (kept ? "kept" : "new") << "\",\"require_tls\":"
              << (require_tls ? "true" : "false") << "}\n";
  }
}

}  // namespace even::ctl
