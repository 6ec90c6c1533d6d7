#include <charconv>
#include <iomanip>
#include <iostream>
#include <ostream>

#include "evenctl/commands.h"

namespace even::ctl {

void add_client_options(config::po::options_description& desc, client::ClientOptions& co, int& timeout_ms) {
  namespace po = config::po;
  timeout_ms = static_cast<int>(co.timeout.count());
  desc.add_options()
      ("writer-endpoint", po::value(&co.writer_endpoint)->default_value(co.writer_endpoint), "the writer's address")
      ("reader-endpoint", po::value(&co.reader_endpoint)->default_value(co.reader_endpoint), "the reader's address")
      ("dispatcher-pub-endpoint", po::value(&co.feed_endpoint)->default_value(co.feed_endpoint),
       "the dispatcher's PUB address (live feed)")
      ("groups-endpoint", po::value(&co.groups_endpoint)->default_value(co.groups_endpoint),
       "even-groups' address (evenctl group)")
      ("timeout-ms", po::value(&timeout_ms)->default_value(timeout_ms), "how long a call may take");
  config::add_security_options(desc, co.security);
}

void finish_client_options(client::ClientOptions& co, int timeout_ms) {
  co.timeout = std::chrono::milliseconds(timeout_ms);
  config::check_client_keys(co.security, co.writer_endpoint, config::Server::writer, "writer-endpoint");
  config::check_client_keys(co.security, co.reader_endpoint, config::Server::reader, "reader-endpoint");
  config::check_client_keys(co.security, co.feed_endpoint, config::Server::dispatcher, "dispatcher-pub-endpoint");
}

GlobalSeq parse_global_seq(const std::string& text, const std::string& option) {
  std::uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || p != end)
    throw config::po::error(option + " must be a global sequence: a whole number >= 0, got '" + text + "'");
  return GlobalSeq(v);
}

void write_json_string(std::ostream& out, const std::string& s) {
  out << '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out << "\\\""; break;
      case '\\': out << "\\\\"; break;
      case '\n': out << "\\n"; break;
      case '\r': out << "\\r"; break;
      case '\t': out << "\\t"; break;
      default:
        if (c < 0x20) out << "\\u" << std::hex << std::setw(4) << std::setfill('0') << int(c) << std::dec;
        else out << c;
    }
  }
  out << '"';
}

void print_error(const client::Error& err) { std::cerr << "evenctl: " << err.what() << "\n"; }

}  // namespace even::ctl
