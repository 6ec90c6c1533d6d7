#include "server/server_options.h"

#include "dispatcher/dispatcher_options.h"
#include "projector/projector_options.h"
#include "reader/reader_options.h"
#include "writer/writer_options.h"

namespace even::server {

namespace po = config::po;

std::vector<std::string> hosted_sections() {
  return {config::kWriterSection, config::kDispatcherSection, config::kReaderSection, config::kProjectorSection};
}

void add_options(po::options_description& desc, ServerOptions& s, bool& init_store) {
  desc.add_options()
      ("writer-endpoint", po::value(&s.writer.endpoint)->default_value(s.writer.endpoint),
       "ROUTER address clients append to")
      ("reader-endpoint", po::value(&s.reader.endpoint)->default_value(s.reader.endpoint),
       "ROUTER address clients read from")
      ("dispatcher-pub-endpoint", po::value(&s.dispatcher.pub_endpoint)->default_value(s.dispatcher.pub_endpoint),
       "PUB address subscribers connect to (the writer feeds the dispatcher over inproc://; "
       "dispatcher-pull-endpoint is not used)")
      ("init-store", po::bool_switch(&init_store), "create or upgrade the store's tables, then continue");
  projector::add_shared_options(desc, s.projector, s.projections_file);
  config::add_db_options(desc, s.db);
  config::add_log_options(desc, s.log);
  config::add_security_options(desc, s.security);
  // One endpoint for the process: --metrics-endpoint, else the first section's metrics-endpoint.
  config::add_metrics_options(desc, config::kWriterSection, s.metrics_endpoint, s.section_metrics_endpoints[0]);
  const char* others[] = {config::kDispatcherSection, config::kReaderSection, config::kProjectorSection};
  for (int i = 0; i < 3; ++i) {
    const std::string key = std::string(others[i]) + ".metrics-endpoint";
    desc.add_options()(key.c_str(), po::value(&s.section_metrics_endpoints[static_cast<std::size_t>(i) + 1]),
                       "even-server serves one endpoint: see --metrics-endpoint");
  }
  writer::add_options(desc, s.writer);
  dispatcher::add_options(desc, s.dispatcher);
  reader::add_options(desc, s.reader);
  projector::add_options(desc, s.projector);
}

void finish_options(const po::variables_map& vm, ServerOptions& s) {
  for (const auto& e : s.section_metrics_endpoints)
    if (s.metrics_endpoint.empty()) s.metrics_endpoint = e;
  writer::finish_options(s.writer);
  dispatcher::finish_options(s.dispatcher);
  reader::finish_options(s.reader);
  projector::finish_options(vm, s.db, s.projector);
  config::check_server_keys(s.security, s.writer.endpoint, "writer-endpoint");
  config::check_server_keys(s.security, s.reader.endpoint, "reader-endpoint");
  config::check_server_keys(s.security, s.dispatcher.pub_endpoint, "dispatcher-pub-endpoint");
}

}  // namespace even::server
