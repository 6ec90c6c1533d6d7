// evenctl: the operator's and developer's command line for Even.
//
//   evenctl store init | status           create/upgrade the store's tables, show its version
//   evenctl append STREAM --type T [--data JSON] [--expected any|no-stream|exists|N] [--id UUID]
//   evenctl ping                          round trip to the writer
#include <iostream>
#include <sstream>

#include "even/client/client.h"
#include "even/common/config.h"
#include "even/common/store/schema.h"

namespace {

int evenctl_main(int argc, char** argv) {
  using namespace even;
  namespace po = config::po;
  config::DbOptions db;
  client::ClientOptions co;
  std::vector<std::string> words;
  std::string type, data, metadata, expected = "any", id, format = "json";
  int timeout_ms = static_cast<int>(co.timeout.count());

  po::options_description desc("evenctl options");
  desc.add_options()
      ("command", po::value(&words)->multitoken(), "store init|status, append STREAM, ping")
      ("writer-endpoint", po::value(&co.writer_endpoint)->default_value(co.writer_endpoint), "the writer's address")
      ("type", po::value(&type), "append: the event type")
      ("data", po::value(&data)->default_value("{}"), "append: the payload")
      ("metadata", po::value(&metadata)->default_value(""), "append: the metadata")
      ("format", po::value(&format)->default_value(format), "append: payload format, json or binary")
      ("expected", po::value(&expected)->default_value(expected), "append: any, no-stream, exists or a version")
      ("id", po::value(&id), "append: event id (UUID); random when not given. Reuse it to retry safely")
      ("timeout-ms", po::value(&timeout_ms)->default_value(timeout_ms), "how long a call may take");
  config::add_db_options(desc, db);
  po::positional_options_description pos;
  pos.add("command", -1);
  auto vm = config::parse(argc, argv, desc,
                          "evenctl: command line for an Even event store.\n"
                          "Usage: evenctl [--config FILE] COMMAND [ARGS] [options]\n"
                          "  store init          create or upgrade the store's tables\n"
                          "  store status        the store's schema version\n"
                          "  append STREAM       append one event (--type, --data, --expected, --id)\n"
                          "  ping                round trip to the writer",
                          &pos);
  if (!vm) return 0;
  if (words.empty()) throw po::error("no command given");
  co.timeout = std::chrono::milliseconds(timeout_ms);

  const std::string& cmd = words[0];
  if (cmd == "store") {
    if (words.size() != 2) throw po::error("usage: evenctl store init|status");
    if (words[1] == "init") {
      auto r = store::init_store(db);
      std::cout << "{\"database\":\"" << db.name << "\",\"schema_version\":" << r.to_version
                << ",\"previous_version\":" << r.from_version << "}\n";
      return 0;
    }
    if (words[1] == "status") {
      std::cout << "{\"database\":\"" << db.name << "\",\"schema_version\":" << store::schema_version(db)
                << ",\"latest\":" << store::latest_schema_version() << "}\n";
      return 0;
    }
    throw po::error("unknown store command '" + words[1] + "'");
  }
  if (cmd == "append") {
    if (words.size() != 2) throw po::error("usage: evenctl append STREAM --type TYPE [--data JSON]");
    if (type.empty()) throw po::error("append needs --type");
    auto ex = ExpectedVersion::parse(expected);
    if (!ex) throw po::error("--expected must be any, no-stream, exists or a version >= 1");
    client::NewEvent e;
    if (!id.empty()) {
      auto parsed = EventId::parse(id);
      if (!parsed) throw po::error("--id must be a UUID");
      e.id = *parsed;
    }
    e.type = type;
    e.payload = data;
    e.metadata = metadata;
    if (format == "binary") e.format = client::PayloadFormat::binary;
    else if (format != "json") throw po::error("--format must be json or binary");
    client::Client c(co);
    try {
      auto r = c.append(words[1], *ex, {e});
      std::cout << "{\"stream\":\"" << words[1] << "\",\"event_id\":\"" << e.id.to_string()
                << "\",\"stream_seq\":" << r.first_stream_seq.value() << ",\"global_seq\":" << r.first_global_seq.value()
                << ",\"idempotent\":" << (r.idempotent ? "true" : "false") << "}\n";
      return 0;
    } catch (const client::WrongExpectedVersion& err) {
      std::cerr << "evenctl: " << err.what() << "\n";
      return 4;
    } catch (const client::Error& err) {
      std::cerr << "evenctl: " << err.what() << "\n";
      return 1;
    }
  }
  if (cmd == "ping") {
    client::Client c(co);
    c.ping_writer(co.timeout);
    std::cout << "{\"writer\":\"" << co.writer_endpoint << "\",\"ok\":true}\n";
    return 0;
  }
  throw po::error("unknown command '" + cmd + "'");
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("evenctl", evenctl_main, argc, argv); }
