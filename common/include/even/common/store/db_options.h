// Where the event store lives: the connection options of every service and tool that opens the
// store (store::Connection::open). Standard library only; config.h adds them to the command line
// and config file (config::add_db_options), as config::DbOptions.
#pragma once

#include <string>

namespace even::store {

struct DbOptions {
  std::string url = "tcp://127.0.0.1:3307";  // Connector/C++ host: tcp://HOST:PORT or unix:///path
  std::string user = "root";
  std::string password;
  std::string name = "even";                 // database (schema) name
  int connect_timeout_s = 5;
  int read_timeout_s = 60;                   // a query that takes longer counts as a lost connection
  bool multi_statements = false;             // set in code by users of Connection::execute_script
};

}  // namespace even::store
