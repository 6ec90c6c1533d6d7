#include "even/common/config.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

namespace even::config {

namespace {

// The top of the file: keys that several programs read, with one meaning everywhere. A program
// that does not read one of them skips it in silence.
const std::set<std::string> kSharedKeys = {
    "db-url", "db-user", "db-password", "db-password-file", "db-name", "db-connect-timeout", "db-read-timeout",  //
    "db-tls", "db-tls-ca",                                                                                     //
    "log-level", "log-file",                                                                //
    "writer-endpoint", "dispatcher-pull-endpoint", "dispatcher-pub-endpoint", "reader-endpoint",
    "groups-endpoint",
    "query-db-url", "query-db-user", "query-db-password", "query-db-password-file",  // the projector's, evenctl's,
    "query-db-name",                                                                  // bank's
    "projections",                                                          // even-projector, even-server, bank
    "timeout-ms",                                                           // a client call's, in every client
    "init-store", "rebuild",  // flags of one run (even-writer/even-server, even-projector/bank)
    // A process's own HTTP endpoint (/metrics, /health): a flag, or a key of a file that
    // configures one process; a file shared by several uses each section's metrics-endpoint.
    "metrics-endpoint",
    // CURVE (curve.h): this node's secret cert, the servers' public certs, the allowlists.
    "curve-secret-key", "writer-public-key", "reader-public-key", "dispatcher-public-key", "groups-public-key",
    "allow-keys-dir",
    "allow-ips", "insecure",
};

const std::set<std::string> kServiceSections = {kWriterSection, kReaderSection, kDispatcherSection,
                                                kProjectorSection, kAdminSection, kGroupsSection};

// Deprecated: the keys that were at the top of the file (and plain flags) before the services got
// sections, with the sections they moved to. Read for one release with a warning; then this table
// goes. A name in two sections meant both services' option (one value for both).
const std::map<std::string, std::vector<std::string>> kMovedKeys = {
    {"max-batch-requests", {kWriterSection}},
    {"max-batch-events", {kWriterSection, kProjectorSection}},
    {"batch-window-us", {kWriterSection}},
    {"max-message-bytes", {kWriterSection}},
    {"max-events-per-append", {kWriterSection}},
    {"recv-hwm", {kWriterSection, kReaderSection}},
    {"lock-name", {kWriterSection}},
    {"no-standby", {kWriterSection}},
    {"workers", {kReaderSection}},
    {"page-max-events", {kReaderSection}},
    {"page-max-bytes", {kReaderSection}},
    {"max-request-bytes", {kReaderSection}},
    {"send-hwm", {kReaderSection}},
    {"heartbeat-ms", {kDispatcherSection}},
    {"poll-ms", {kDispatcherSection}},
    {"gap-wait-ms", {kDispatcherSection}},
    {"hole-check-ms", {kDispatcherSection}},
    {"hole-settle-ms", {kDispatcherSection}},
    {"hole-safety-ms", {kDispatcherSection}},
    {"start-from", {kDispatcherSection}},
    {"max-pending", {kDispatcherSection}},
    {"pub-hwm", {kDispatcherSection}},
    {"pull-hwm", {kDispatcherSection}},
    {"test-drop-every", {kDispatcherSection}},
    {"feed-timeout-ms", {kProjectorSection}},
    {"queue-events", {kProjectorSection}},
    {"progress-interval-ms", {kProjectorSection}},
    {"retry-ms", {kProjectorSection}},
};

// "a", "a and b", "a, b and c".
std::string join_and(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " and " : ", ";
    out += items[i];
  }
  return out;
}

// Which old names this program still reads: old key -> the keys of hosted sections it stands for.
std::map<std::string, std::vector<std::string>> moved_here(const po::options_description& desc,
                                                           const std::vector<std::string>& sections) {
  std::map<std::string, std::vector<std::string>> moved;
  for (const auto& [key, to] : kMovedKeys) {
    if (desc.find_nothrow(key, false)) continue;  // a key of this program at the top
    for (const auto& section : to) {
      const std::string name = section + "." + key;
      if (std::find(sections.begin(), sections.end(), section) != sections.end() && desc.find_nothrow(name, false))
        moved[key].push_back(name);
    }
  }
  return moved;
}

// The old names as hidden options, so that the command line parser knows whether they take a value.
po::options_description old_name_options(const po::options_description& desc,
                                         const std::map<std::string, std::vector<std::string>>& moved) {
  po::options_description old_names;
  for (const auto& [key, to] : moved) {
    const bool takes_value = desc.find(to.front(), false).semantic()->max_tokens() > 0;
    old_names.add_options()(key.c_str(), takes_value ? static_cast<const po::value_semantic*>(po::value<std::string>())
                                                     : po::bool_switch());
  }
  return old_names;
}

// Rewrites the old names in `parsed` to the keys they stand for, except where one of those is given
// in `parsed` itself. Returns a warning per old name, worded by `describe(key, to, applied)`.
template <typename Describe>
std::vector<std::string> rename_moved(po::parsed_options& parsed,
                                      const std::map<std::string, std::vector<std::string>>& moved,
                                      Describe describe) {
  std::set<std::string> given;
  for (const auto& o : parsed.options) given.insert(o.string_key);
  std::vector<po::option> options;
  std::vector<std::string> warnings;
  std::set<std::string> warned;
  for (auto& o : parsed.options) {
    auto it = o.unregistered ? moved.end() : moved.find(o.string_key);
    if (it == moved.end()) {
      options.push_back(std::move(o));
      continue;
    }
    bool applied = false;
    for (const auto& name : it->second) {
      if (given.count(name)) continue;
      po::option renamed = o;
      renamed.string_key = name;
      options.push_back(std::move(renamed));
      applied = true;
    }
    if (warned.insert(it->first).second) warnings.push_back(describe(it->first, it->second, applied));
  }
  parsed.options = std::move(options);
  return warnings;
}

// "[writer] and [reader]" for {"writer.recv-hwm", "reader.recv-hwm"}.
std::string sections_of(const std::vector<std::string>& names) {
  std::vector<std::string> sections;
  for (const auto& n : names) {
    // Appended, not "[" + substr(...): g++ 12 at -O3 warns (-Wrestrict, a false positive) about
    // the insert at the front of a temporary.
    std::string section = "[";
    section.append(n, 0, n.find('.'));
    sections.push_back(section + "]");
  }
  return join_and(sections);
}

// The store keys (db-*, query-db-*): a service's section may set them for that service alone (its
// own MySQL user and password file in a file shared by several services).
bool is_db_key(const std::string& key) {
  return kSharedKeys.count(key) && (key.rfind("db-", 0) == 0 || key.rfind("query-db-", 0) == 0);
}

// For a program that hosts one service, rewrites the db-* / query-db-* keys of its section in
// `parsed` (from the file `path`) to the top keys, dropping the top ones they replace: the section
// wins. A program that hosts several services (even-server) has one store connection setting for
// all: it reads the top keys and warns about a section's.
std::vector<std::string> lift_section_db_keys(po::parsed_options& parsed, const std::string& path,
                                              const po::options_description& desc,
                                              const std::vector<std::string>& sections) {
  std::set<std::string> lifted;
  const auto split = [&](const std::string& key) -> std::pair<std::string, std::string> {
    const auto dot = key.find('.');
    if (dot == std::string::npos) return {"", key};
    return {key.substr(0, dot), key.substr(dot + 1)};
  };
  const auto hosted = [&](const std::string& section) {
    return std::find(sections.begin(), sections.end(), section) != sections.end();
  };
  for (const auto& o : parsed.options) {
    auto [section, key] = split(o.string_key);
    if (!section.empty() && hosted(section) && is_db_key(key)) lifted.insert(key);
  }
  std::vector<std::string> warnings;
  if (lifted.empty()) return warnings;
  std::vector<po::option> options;
  for (auto& o : parsed.options) {
    auto [section, key] = split(o.string_key);
    if (section.empty() && sections.size() == 1 && lifted.count(key)) continue;  // the section's wins
    if (section.empty() || !hosted(section) || !is_db_key(key)) {
      options.push_back(std::move(o));
      continue;
    }
    if (sections.size() != 1) {
      warnings.push_back(path + ": key '" + key + "' in [" + section + "] is read by even-" + section +
                         " alone; a program hosting several services uses the top-level " + key + " (ignored)");
      continue;
    }
    o.string_key = key;
    o.unregistered = desc.find_nothrow(key, false) == nullptr;
    options.push_back(std::move(o));
  }
  parsed.options = std::move(options);
  return warnings;
}

// Drops the keys of `parsed` (from the file `path`) that nothing here reads: in silence when they
// are shared keys or another service's, with a warning naming key and file otherwise.
std::vector<std::string> drop_unread(po::parsed_options& parsed, const std::string& path,
                                     const std::vector<std::string>& sections) {
  std::vector<po::option> options;
  std::vector<std::string> warnings;
  for (auto& o : parsed.options) {
    if (!o.unregistered) {
      options.push_back(std::move(o));
      continue;
    }
    const std::string& key = o.string_key;
    const auto dot = key.find('.');
    if (dot == std::string::npos) {
      if (kSharedKeys.count(key) || kMovedKeys.count(key)) continue;
      warnings.push_back(path + ": unknown key '" + key + "' (ignored)");
      continue;
    }
    const std::string section = key.substr(0, dot);
    const bool hosted = std::find(sections.begin(), sections.end(), section) != sections.end();
    if (!hosted && kServiceSections.count(section)) continue;
    warnings.push_back(path + ": unknown key '" + key.substr(dot + 1) + "' in [" + section + "] (ignored)");
  }
  parsed.options = std::move(options);
  return warnings;
}

std::optional<Parsed> parse_file_and_flags(int argc, const char* const argv[], po::options_description& desc,
                                           const std::string& usage, const std::vector<std::string>& sections,
                                           const po::positional_options_description* positional) {
  desc.add_options()
      ("help,h", "show this help")
      ("config", po::value<std::string>(), "read options from this file (key = value lines, [section]s; flags win)");
  const auto moved = moved_here(desc, sections);
  po::options_description all;
  all.add(desc).add(old_name_options(desc, moved));

  Parsed out;
  auto parser = po::command_line_parser(argc, argv).options(all);
  if (positional) parser.positional(*positional);
  auto flags = parser.run();
  out.warnings = rename_moved(flags, moved, [](const std::string& key, const std::vector<std::string>& to, bool applied) {
    std::vector<std::string> flags_to;
    for (const auto& name : to) flags_to.push_back("--" + name);
    return "--" + key + " is an old name: use " + join_and(flags_to) +
           (applied ? " (the old name is read for one release)" : " (given too; --" + key + " is ignored)");
  });
  for (const auto& o : flags.options) {
    if ((o.string_key == "db-password" || o.string_key == "query-db-password") && !o.value.empty() &&
        !o.value.front().empty())
      out.warnings.push_back("--" + o.string_key + " shows the password to every user of this machine (ps): use --" +
                             o.string_key + "-file FILE");
  }
  po::store(flags, out.vm);
  if (out.vm.count("help")) {
    std::cout << usage << "\n\n" << desc << "\n";
    return std::nullopt;
  }
  if (out.vm.count("config")) {
    const auto& path = out.vm["config"].as<std::string>();
    std::ifstream in(path);
    if (!in) throw po::error("cannot open config file '" + path + "'");
    auto file = po::parse_config_file(in, all, /*allow_unregistered=*/true);
    for (auto& w : lift_section_db_keys(file, path, all, sections)) out.warnings.push_back(std::move(w));
    for (auto& w : drop_unread(file, path, sections)) out.warnings.push_back(std::move(w));
    auto renamed = rename_moved(file, moved, [&](const std::string& key, const std::vector<std::string>& to, bool applied) {
      return path + ": key '" + key + "' at the top is an old name: write it under " + sections_of(to) +
             (applied ? " (the old name is read for one release)" : " (it is there too, so the old name is ignored)");
    });
    for (auto& w : renamed) out.warnings.push_back(std::move(w));
    po::store(file, out.vm);
  }
  po::notify(out.vm);
  return out;
}

}  // namespace

std::vector<std::string> metrics_endpoints_in_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw po::error("cannot read " + path);
  po::options_description none;
  std::vector<std::string> out;
  for (const auto& o : po::parse_config_file(in, none, true).options) {
    const auto dot = o.string_key.find('.');
    if (o.string_key == "metrics-endpoint" ||
        (dot != std::string::npos && o.string_key.substr(dot + 1) == "metrics-endpoint"))
      for (const auto& v : o.value)
        if (!v.empty() && std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  return out;
}

void add_query_db_options(po::options_description& desc, DbOptions& q, QueryDbFlags& f,
                          const std::string& default_name) {
  desc.add_options()
      ("query-db-url", po::value(&f.url)->default_value(""), "server of the query database, MySQL (tcp://, unix://) or PostgreSQL (postgresql://HOST:PORT); default: --db-url")
      ("query-db-user", po::value(&f.user)->default_value(""), "its user (default: --db-user)")
      ("query-db-password", po::value(&f.password)->default_value(""), "its password (default: --db-password)")
      ("query-db-password-file", po::value(&f.password_file)->default_value("")->notifier([](const std::string& p) {
         if (!p.empty()) check_password_file(p);
       }),
       "file holding its password, mode 0600 (default: --db-password-file)")
      ("query-db-name", po::value(&q.name)->default_value(default_name), "the query database");
}

void finish_query_db(DbOptions& q, const DbOptions& store_db, const QueryDbFlags& f) {
  const std::string name = q.name;
  q = store_db;
  q.name = name;
  if (!f.url.empty()) q.url = f.url;
  if (!f.user.empty()) q.user = f.user;
  if (!f.password_file.empty()) {
    q.password_file = f.password_file;
    q.password.clear();
  } else if (!f.password.empty()) {
    q.password = f.password;
    q.password_file.clear();
  }
}

void check_password_file(const std::string& path) {
  try {
    store::read_password_file(path);
  } catch (const std::exception& e) {
    throw po::error(e.what());
  }
}

void check_readable(const std::string& path, const std::string& option) {
  if (path.empty()) return;
  std::ifstream in(path);
  if (!in) throw po::error(option + ": cannot read '" + path + "'");
}

void add_db_options(po::options_description& desc, DbOptions& db) {
  desc.add_options()
      ("db-url", po::value(&db.url)->default_value(db.url),
       "event store server, tcp://HOST:PORT or unix:///path/to/socket")
      ("db-user", po::value(&db.user)->default_value(db.user), "event store user")
      ("db-password-file",
       po::value(&db.password_file)->notifier([](const std::string& path) { check_password_file(path); }),
       "file holding the event store user's password (first line); must be readable by its owner only "
       "(mode 0600 or 0400), else the program refuses to start; read again at each reconnect")
      ("db-password", po::value(&db.password)->default_value(db.password),
       "event store password (deprecated on the command line, where every user sees it: use --db-password-file)")
      ("db-tls", po::value(&db.tls)->default_value(db.tls)->notifier([](const std::string& v) {
         if (v != "on" && v != "off" && v != "auto") throw po::error("--db-tls must be on, off or auto, not '" + v + "'");
       }),
       "TLS to the store: on (encrypted, and the server's certificate is verified against --db-tls-ca and must "
       "name the db-url host; no TLS, no connection), off, or auto (on unless db-url is loopback or a unix socket)")
      ("db-tls-ca", po::value(&db.tls_ca)->notifier([](const std::string& path) { check_readable(path, "--db-tls-ca"); }),
       "PEM file of the CA that signed the store server's certificate (default: the system's CAs)")
      ("db-name", po::value(&db.name)->default_value(db.name), "event store database name")
      ("db-connect-timeout", po::value(&db.connect_timeout_s)->default_value(db.connect_timeout_s),
       "seconds to wait for a connection to the store")
      ("db-read-timeout", po::value(&db.read_timeout_s)->default_value(db.read_timeout_s),
       "seconds a statement may take before the connection counts as lost");
}

std::vector<std::string> db_flags(const DbOptions& db) {
  std::vector<std::string> f = {"--db-url", db.url, "--db-user", db.user, "--db-name", db.name, "--db-tls", db.tls};
  if (!db.password_file.empty()) f.insert(f.end(), {"--db-password-file", db.password_file});
  else if (!db.password.empty()) f.insert(f.end(), {"--db-password", db.password});
  if (!db.tls_ca.empty()) f.insert(f.end(), {"--db-tls-ca", db.tls_ca});
  return f;
}

void add_log_options(po::options_description& desc, LogOptions& log) {
  desc.add_options()
      ("log-level", po::value(&log.level)->default_value(log.level), "trace, debug, info, warn, error")
      ("log-file", po::value(&log.file)->default_value(log.file), "log to this file instead of stderr");
}

po::typed_value<int>* milliseconds(std::chrono::milliseconds& target) {
  return po::value<int>()
      ->default_value(static_cast<int>(target.count()))
      ->notifier([&target](int ms) { target = std::chrono::milliseconds(ms); });
}

void add_metrics_options(po::options_description& desc, const std::string& section, std::string& process_endpoint,
                         std::string& section_endpoint) {
  desc.add_options()
      ("metrics-endpoint", po::value(&process_endpoint)->default_value(process_endpoint),
       "serve GET /metrics (Prometheus) and /health/live, /health/ready over HTTP on HOST:PORT, e.g. "
       "127.0.0.1:9101 (empty: off); wins over the section's metrics-endpoint");
  po::options_description own("metrics of this service: [" + section + "] in the config file");
  own.add_options()
      ((section + ".metrics-endpoint").c_str(), po::value(&section_endpoint)->default_value(section_endpoint),
       "HOST:PORT of this service's /metrics and /health when it runs as a process of its own (the "
       "per-service key of a config file shared by several services; empty: off)");
  desc.add(own);
}

void add_security_options(po::options_description& desc, curve::Options& s) {
  desc.add_options()
      ("curve-secret-key", po::value(&s.secret_key)->default_value(s.secret_key),
       "this node's secret cert (NAME.key_secret from `evenctl keygen`): a server's key for the sockets it binds, "
       "a client's key for those it connects")
      ("writer-public-key", po::value(&s.writer_public_key)->default_value(s.writer_public_key),
       "the writer's public cert file (or its 40-character Z85 key), for whoever connects to writer-endpoint")
      ("reader-public-key", po::value(&s.reader_public_key)->default_value(s.reader_public_key),
       "the reader's public cert file (or Z85 key), for whoever connects to reader-endpoint")
      ("dispatcher-public-key", po::value(&s.dispatcher_public_key)->default_value(s.dispatcher_public_key),
       "the dispatcher's public cert file (or Z85 key), for whoever connects to its PUB or PULL endpoint")
      ("groups-public-key", po::value(&s.groups_public_key)->default_value(s.groups_public_key),
       "even-groups' public cert file (or Z85 key), for whoever connects to groups-endpoint")
      ("allow-keys-dir", po::value(&s.allow_keys_dir)->default_value(s.allow_keys_dir),
       "servers: the folder of client public certs (*.key) let in, each with its roles in its metadata (role = "
       "\"append read subscribe feed\"); reread on SIGHUP and when it changes")
      ("allow-ips", po::value(&s.allow_ips)->default_value(s.allow_ips),
       "servers: only clients from these addresses/CIDRs, comma-separated (empty: any address with a listed key)")
      ("insecure", po::bool_switch(&s.insecure),
       "plain TCP: no encryption, no client authentication (logged as a warning); without it, a tcp:// endpoint "
       "needs the keys above");
}

void check_server_keys(const curve::Options& security, const std::string& endpoint, const std::string& what) {
  try {
    curve::require_server_keys(security, endpoint, what);
  } catch (const std::invalid_argument& e) {
    throw po::error(e.what());
  }
}

void check_client_keys(const curve::Options& security, const std::string& endpoint, Server server,
                       const std::string& what) {
  const std::string& key = server == Server::writer   ? security.writer_public_key
                           : server == Server::reader ? security.reader_public_key
                           : server == Server::groups ? security.groups_public_key
                                                      : security.dispatcher_public_key;
  const char* option = server == Server::writer   ? "writer-public-key"
                       : server == Server::reader ? "reader-public-key"
                       : server == Server::groups ? "groups-public-key"
                                                  : "dispatcher-public-key";
  try {
    curve::require_client_keys(security, endpoint, key, option, what);
  } catch (const std::invalid_argument& e) {
    throw po::error(e.what());
  }
}

std::optional<Parsed> parse_services(int argc, const char* const argv[], po::options_description& desc,
                                     const std::string& usage, const std::vector<std::string>& sections) {
  return parse_file_and_flags(argc, argv, desc, usage, sections, nullptr);
}

std::optional<po::variables_map> parse(int argc, const char* const argv[], po::options_description& desc,
                                       const std::string& usage,
                                       const po::positional_options_description* positional) {
  auto parsed = parse_file_and_flags(argc, argv, desc, usage, {}, positional);
  if (!parsed) return std::nullopt;
  std::string program = argc > 0 ? argv[0] : "even";
  program = program.substr(program.rfind('/') + 1);
  for (const auto& w : parsed->warnings) std::cerr << program << ": warning: " << w << "\n";
  return std::move(parsed->vm);
}

std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const LogOptions& log) {
  std::shared_ptr<spdlog::logger> logger;
  if (log.file.empty()) {
    logger = std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  } else {
    logger = std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::basic_file_sink_mt>(log.file));
  }
  auto level = spdlog::level::from_str(log.level);
  if (level == spdlog::level::off && log.level != "off")
    throw po::error("unknown --log-level '" + log.level + "'");
  logger->set_level(level);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  logger->flush_on(spdlog::level::info);
  return logger;
}

int run_main(const char* program, int (*body)(int, char**), int argc, char** argv) {
  try {
    return body(argc, argv);
  } catch (const po::error& e) {
    std::cerr << program << ": " << e.what() << " (see --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace even::config
