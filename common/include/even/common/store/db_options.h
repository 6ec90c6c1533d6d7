// Where the event store lives: the connection options of every service and tool that opens the
// store (store::Connection::open). Standard library only; config.h adds them to the command line
// and config file (config::add_db_options), as config::DbOptions.
#pragma once

#include <string>
#include <vector>

namespace even::store {

struct DbOptions {
  // Connector/C++ host: tcp://HOST:PORT or unix:///path. Or a comma-separated list of them: a
  // primary and its replicas, in any order (store_urls(); Connection::open finds the writable one,
  // open_replica a read-only one).
  std::string url = "tcp://127.0.0.1:3307";
  std::string user = "root";
  std::string password;                      // used when password_file is empty
  // A file holding the password (first line; a trailing newline is dropped). Read at every
  // connect, so a rotated password is picked up at the next reconnect. It must not be readable by
  // group or others (read_password_file); it wins over `password`.
  std::string password_file;
  std::string name = "even";                 // database (schema) name
  int connect_timeout_s = 5;
  int read_timeout_s = 60;                   // a query that takes longer counts as a lost connection
  bool multi_statements = false;             // set in code by users of Connection::execute_script
  // TLS to the server: "on", "off", or "auto" (on unless the url's host is loopback or a unix
  // socket). On means encrypted and verified: the server's certificate must chain to tls_ca (or,
  // when tls_ca is empty, to the system's CAs) and name the url's host; otherwise no connection.
  std::string tls = "auto";
  std::string tls_ca;                        // PEM file of the CA that signed the server's certificate
};

// The servers of db.url: its comma-separated entries, trimmed, empty ones dropped (one for a
// plain url).
std::vector<std::string> store_urls(const std::string& url);
// `db` with url set to one server of its list.
DbOptions at_url(DbOptions db, std::string url);

// Whether Connection::open(db) uses TLS (db.tls resolved against db.url's host).
bool uses_tls(const DbOptions& db);
// True for tcp://127.x.x.x, tcp://[::1], tcp://localhost and unix:// urls (and postgresql:// ones
// of those hosts, for the projector's query databases).
bool is_loopback_url(const std::string& url);
// The password of `path`: its first line. Throws std::runtime_error with a message naming the file
// when it cannot be read, is not a regular file, or is readable by group or others (mode & 077).
std::string read_password_file(const std::string& path);
// The password Connection::open logs in with: read_password_file(password_file) when set, else
// password.
std::string resolve_password(const DbOptions& db);

}  // namespace even::store
