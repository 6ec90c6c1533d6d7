#include "even/common/config.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>

namespace even::config {

void add_db_options(po::options_description& desc, DbOptions& db) {
  desc.add_options()
      ("db-url", po::value(&db.url)->default_value(db.url),
       "event store server, tcp://HOST:PORT or unix:///path/to/socket")
      ("db-user", po::value(&db.user)->default_value(db.user), "event store user")
      ("db-password", po::value(&db.password)->default_value(db.password), "event store password")
      ("db-name", po::value(&db.name)->default_value(db.name), "event store database name")
      ("db-connect-timeout", po::value(&db.connect_timeout_s)->default_value(db.connect_timeout_s),
       "seconds to wait for a connection to the store")
      ("db-read-timeout", po::value(&db.read_timeout_s)->default_value(db.read_timeout_s),
       "seconds a statement may take before the connection counts as lost");
}

void add_log_options(po::options_description& desc, LogOptions& log) {
  desc.add_options()
      ("log-level", po::value(&log.level)->default_value(log.level), "trace, debug, info, warn, error")
      ("log-file", po::value(&log.file)->default_value(log.file), "log to this file instead of stderr");
}

std::optional<po::variables_map> parse(int argc, const char* const argv[], po::options_description& desc,
                                       const std::string& usage,
                                       const po::positional_options_description* positional) {
  std::string config_file;
  desc.add_options()
      ("help,h", "show this help")
      ("config", po::value(&config_file), "read options from this file (key = value lines; flags win)");
  po::variables_map vm;
  auto parser = po::command_line_parser(argc, argv).options(desc);
  if (positional) parser.positional(*positional);
  po::store(parser.run(), vm);
  if (vm.count("help")) {
    std::cout << usage << "\n\n" << desc << "\n";
    return std::nullopt;
  }
  if (vm.count("config")) {
    const auto& path = vm["config"].as<std::string>();
    std::ifstream in(path);
    if (!in) throw po::error("cannot open config file '" + path + "'");
    po::store(po::parse_config_file(in, desc, /*allow_unregistered=*/true), vm);
  }
  po::notify(vm);
  return vm;
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
