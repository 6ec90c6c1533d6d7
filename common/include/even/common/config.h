// Configuration shared by every Even program: options from flags and from an INI-style file
// (--config FILE; flags win), the store connection options, and logging setup.
//
// One file serves every program of a cluster. Its layout:
//
//   db-url = tcp://10.0.0.5:3306     <- shared keys first: read by every program that needs them,
//   reader-endpoint = tcp://...         with one meaning everywhere (kSharedKeys in config.cpp)
//   [writer]                         <- then a section per service with its own keys; the same key
//   max-batch-events = 5000             on the command line is --writer.max-batch-events
//   [reader]
//   recv-hwm = 1000
//
// A program reads the sections of the services it hosts (even-writer: [writer]; even-server: all
// four) and skips the other services' sections in silence. A section may also hold the store keys
// (db-*, query-db-*: e.g. the service's own db-user and db-password-file); they win over the top
// ones in a program that hosts that service alone (even-server reads the top ones and warns).
// --db-password / --query-db-password given as flags are a warning: use the *-file keys. A key that is neither shared nor of any
// service (or not of its section) is a warning naming the key and the file, then ignored.
// Deprecated: before the sections, a service's keys were at the top of the file and plain flags
// (--recv-hwm); those old names are read for one release, each time with a warning.
#pragma once

#include <boost/program_options.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "even/common/curve.h"
#include "even/common/store/db_options.h"

namespace even::config {

namespace po = boost::program_options;

// Where the event store lives (store/db_options.h). The same options are used by every service
// and tool.
using DbOptions = store::DbOptions;

// --db-url, --db-user, --db-password-file, --db-password, --db-name, --db-tls, --db-tls-ca and the
// timeouts, stored into `db` (which must outlive the parse). A password file that is readable by
// group or others, or a --db-tls-ca that cannot be read, is a po::error when the options are
// parsed, so a program refuses to start. A service's section of the config file may set these keys
// for that service's own program (parse_services).
void add_db_options(po::options_description& desc, DbOptions& db);
// The flags that give a child process the same store connection as `db`: --db-url, --db-user,
// --db-password-file (or --db-password when set and no file), --db-name, --db-tls, --db-tls-ca.
std::vector<std::string> db_flags(const DbOptions& db);
// What --db-password-file and --query-db-password-file check: throws po::error naming the file when
// store::read_password_file does.
void check_password_file(const std::string& path);
// Throws po::error naming `option` when `path` is set and cannot be opened for reading.
void check_readable(const std::string& path, const std::string& option);

// A query database (where a projector keeps read models and their checkpoints), for a program
// that looks at one (evenctl projection, even-admin): --query-db-url, --query-db-user,
// --query-db-password, --query-db-password-file (checked as --db-password-file is) default to the
// store's; --query-db-name to `default_name`. `query` and `flags` must outlive the parse;
// finish_query_db then makes `query` the store's connection (TLS and timeouts included) with
// what was given.
struct QueryDbFlags {
  std::string url, user, password, password_file;
};
void add_query_db_options(po::options_description& desc, DbOptions& query, QueryDbFlags& flags,
                          const std::string& default_name = "even_query");
void finish_query_db(DbOptions& query, const DbOptions& store, const QueryDbFlags& flags);

struct LogOptions {
  std::string level = "info";
  std::string file;  // empty: stderr
};

void add_log_options(po::options_description& desc, LogOptions& log);

// The sections of the services, as in the file and in the flags' prefixes.
inline constexpr const char* kWriterSection = "writer";
inline constexpr const char* kReaderSection = "reader";
inline constexpr const char* kDispatcherSection = "dispatcher";
inline constexpr const char* kProjectorSection = "projector";
inline constexpr const char* kAdminSection = "admin";  // even-admin (services/admin)
inline constexpr const char* kGroupsSection = "groups";  // even-groups (services/groups)

// What parse_services() read: the values, and warnings for the caller to log once its logger
// exists (an old name of a key or flag, an unknown key in the file).
struct Parsed {
  po::variables_map vm;
  std::vector<std::string> warnings;
};

// Parses flags, then the file named by --config, for a program that hosts the services of
// `sections` (their options are in `desc` under "SECTION.KEY"). Flags win over the file; in the
// file, a key of its section wins over its old name at the top. Prints help and returns nullopt
// on --help; throws po::error with a readable message on bad input (an unknown flag included).
std::optional<Parsed> parse_services(int argc, const char* const argv[], po::options_description& desc,
                                     const std::string& usage, const std::vector<std::string>& sections);

// The same for a program that hosts no service (evenctl, even-bench, examples): it reads the
// shared keys it registered in `desc`; warnings about the file go to stderr.
std::optional<po::variables_map> parse(int argc, const char* const argv[], po::options_description& desc,
                                       const std::string& usage,
                                       const po::positional_options_description* positional = nullptr);

// --metrics-endpoint (the process's) and --SECTION.metrics-endpoint (the service's key of a file
// shared by several services), both HOST:PORT of the HTTP endpoint of metrics_http.h; the
// process's wins, empty means off. Both strings must stay alive until the options are parsed.
void add_metrics_options(po::options_description& desc, const std::string& section, std::string& process_endpoint,
                         std::string& section_endpoint);

// Every `metrics-endpoint` of the file `path`, at the top and in any [section], in the order of
// the file, without repeats (evenctl stats, even-admin: the services to scrape). Throws po::error
// when the file cannot be read.
std::vector<std::string> metrics_endpoints_in_file(const std::string& path);

// A whole number of milliseconds on the command line, a duration in the options (`target` must
// outlive the parse; its value is the default).
po::typed_value<int>* milliseconds(std::chrono::milliseconds& target);

// The CURVE keys (curve.h), shared keys at the top of the file: curve-secret-key,
// writer-public-key, reader-public-key, dispatcher-public-key, groups-public-key, allow-keys-dir, allow-ips,
// insecure. Every program registers all of them, with one meaning everywhere.
void add_security_options(po::options_description& desc, curve::Options& security);

// The server whose public key a client needs.
enum class Server { writer, reader, dispatcher, groups };

// Checks before start-up that the keys an endpoint needs are configured (curve.h): a server
// binding `endpoint`, or a client connecting to `server` at `endpoint`. Throws po::error naming
// the options to set or --insecure. `what` names the endpoint's option, e.g. "writer-endpoint".
void check_server_keys(const curve::Options& security, const std::string& endpoint, const std::string& what);
void check_client_keys(const curve::Options& security, const std::string& endpoint, Server server,
                       const std::string& what);

// Creates the named logger (one per service: "writer", "reader", ...) writing to stderr or a file.
std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const LogOptions& log);

// Wraps main(): runs body, turns po::error and std::exception into a message and exit code 2/1.
int run_main(const char* program, int (*body)(int, char**), int argc, char** argv);

}  // namespace even::config
