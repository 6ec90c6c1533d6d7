// Configuration shared by every Even program: options from flags and from an INI-style file
// (--config FILE; flags win), the store connection options, and logging setup.
#pragma once

#include <boost/program_options.hpp>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/logger.h>

namespace even::config {

namespace po = boost::program_options;

// Where the event store lives. The same options are used by every service and tool.
struct DbOptions {
  std::string url = "tcp://127.0.0.1:3307";  // Connector/C++ host: tcp://HOST:PORT or unix:///path
  std::string user = "root";
  std::string password;
  std::string name = "even";                 // database (schema) name
  int connect_timeout_s = 5;
  int read_timeout_s = 60;                   // a query that takes longer counts as a lost connection
  bool multi_statements = false;             // set in code by users of Connection::execute_script
};

void add_db_options(po::options_description& desc, DbOptions& db);

struct LogOptions {
  std::string level = "info";
  std::string file;  // empty: stderr
};

void add_log_options(po::options_description& desc, LogOptions& log);

// Parses flags, then the file named by --config (unknown keys in the file are allowed, so all
// services can share one file). Prints help and returns nullopt on --help; throws
// po::error with a readable message on bad input.
std::optional<po::variables_map> parse(int argc, const char* const argv[], po::options_description& desc,
                                       const std::string& usage,
                                       const po::positional_options_description* positional = nullptr);

// Creates the named logger (one per service: "writer", "reader", ...) writing to stderr or a file.
std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const LogOptions& log);

// Wraps main(): runs body, turns po::error and std::exception into a message and exit code 2/1.
int run_main(const char* program, int (*body)(int, char**), int argc, char** argv);

}  // namespace even::config
