#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "evenctl/commands.h"

namespace even::ctl {

namespace {

// Every byte of `in` (binary: a payload may be any bytes).
std::string read_all_bytes(std::istream& in) {
  std::ostringstream out;
  out << in.rdbuf();
  return std::move(out).str();
}

}  // namespace

int cmd_append(int argc, char** argv) {
  namespace po = config::po;
  client::ClientOptions co;
  int timeout_ms = 0;
  std::vector<std::string> words;
  std::string type, data, data_file, metadata, expected = "any", id, format = "json";
  po::options_description desc("evenctl append options");
  desc.add_options()
      ("stream", po::value(&words)->multitoken(), "the stream to append to")
      ("type", po::value(&type), "the event type")
      ("data", po::value(&data)->default_value("{}"), "the payload; '-' reads it from stdin")
      ("data-file", po::value(&data_file), "read the payload from this file (for large payloads)")
      ("metadata", po::value(&metadata)->default_value(""), "the metadata")
      ("format", po::value(&format)->default_value(format),
       "payload format, json (checked to parse before sending) or binary")
      ("expected", po::value(&expected)->default_value(expected),
       "any, no-stream (the stream must not exist yet), exists, or the stream's current version (>= 1)")
      ("id", po::value(&id), "event id (UUID); random when not given. Reuse it to retry safely");
  add_client_options(desc, co, timeout_ms);
  po::positional_options_description pos;
  pos.add("stream", -1);
  auto vm = config::parse(argc, argv, desc, "Usage: evenctl append STREAM --type TYPE [--data JSON] [options]", &pos);
  if (!vm) return 0;
  finish_client_options(co, timeout_ms);
  if (words.size() != 1) throw po::error("usage: evenctl append STREAM --type TYPE [--data JSON]");
  if (type.empty()) throw po::error("append needs --type");
  auto ex = ExpectedVersion::parse(expected);
  if (!ex)
    throw po::error("--expected must be any, no-stream, exists or a version >= 1, got '" + expected +
                    "' (a stream's first event is version 1; for a stream that must not exist yet use no-stream)");
  if (!data_file.empty() && !(*vm)["data"].defaulted()) throw po::error("give either --data or --data-file, not both");
  if (!data_file.empty()) {
    std::ifstream in(data_file, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read --data-file '" + data_file + "'");
    data = read_all_bytes(in);
    if (in.bad()) throw std::runtime_error("error reading --data-file '" + data_file + "'");
  } else if (data == "-") {
    data = read_all_bytes(std::cin);
  }
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
    auto r = c.append(words[0], *ex, {e});
    std::cout << "{\"stream\":";
    write_json_string(std::cout, words[0]);
    std::cout << ",\"event_id\":\"" << e.id.to_string() << "\",\"stream_seq\":" << r.first_stream_seq.value()
              << ",\"global_seq\":" << r.first_global_seq.value()
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

int cmd_ping(int argc, char** argv) {
  namespace po = config::po;
  client::ClientOptions co;
  int timeout_ms = 0;
  po::options_description desc("evenctl ping options");
  add_client_options(desc, co, timeout_ms);
  auto vm = config::parse(argc, argv, desc, "Usage: evenctl ping [options]");
  if (!vm) return 0;
  finish_client_options(co, timeout_ms);
  client::Client c(co);
  c.ping_writer(co.timeout);
  std::cout << "{\"writer\":\"" << co.writer_endpoint << "\",\"ok\":true}\n";
  return 0;
}

}  // namespace even::ctl
