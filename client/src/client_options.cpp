// ClientOptions::from_file: the client's keys of an even.conf, read without Boost.
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "even/client/client.h"
#include "even/common/curve.h"

namespace even::client {

namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

std::int64_t positive_number(std::string_view value, const std::string& where) {
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n <= 0)
    throw std::runtime_error(where + ": expected a whole number > 0, got '" + std::string(value) + "'");
  return n;
}

// Boost's spellings of a bool in a config file.
bool boolean(std::string_view value, const std::string& where) {
  if (value == "true" || value == "1" || value == "yes" || value == "on") return true;
  if (value == "false" || value == "0" || value == "no" || value == "off") return false;
  throw std::runtime_error(where + ": expected true or false, got '" + std::string(value) + "'");
}

}  // namespace

ClientOptions ClientOptions::from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  ClientOptions o;
  bool groups_named = false;  // even-groups is checked only when the file names it
  std::string line;
  std::string section;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string_view text(line);
    text = trim(text.substr(0, text.find('#')));  // '#' starts a comment anywhere, as in Boost's files
    if (text.empty()) continue;
    const std::string where = path + ":" + std::to_string(number);
    if (text.front() == '[') {
      if (text.back() != ']') throw std::runtime_error(where + ": a section line looks like [name]");
      section = std::string(trim(text.substr(1, text.size() - 2)));
      continue;
    }
    const auto eq = text.find('=');
    if (eq == std::string_view::npos) throw std::runtime_error(where + ": expected KEY = VALUE");
    if (!section.empty()) continue;  // [writer], [reader] ...: the services' own keys
    const auto key = trim(text.substr(0, eq));
    const auto value = trim(text.substr(eq + 1));
    const std::string at = where + " (" + std::string(key) + ")";
    if (key == "writer-endpoint") o.writer_endpoint = value;
    else if (key == "reader-endpoint") o.reader_endpoint = value;
    else if (key == "dispatcher-pub-endpoint") o.feed_endpoint = value;
    else if (key == "groups-endpoint") {
      o.groups_endpoint = value;
      groups_named = true;
    } else if (key == "timeout-ms") o.timeout = std::chrono::milliseconds(positive_number(value, at));
    else if (key == "curve-secret-key") o.security.secret_key = value;
    else if (key == "writer-public-key") o.security.writer_public_key = value;
    else if (key == "reader-public-key") o.security.reader_public_key = value;
    else if (key == "dispatcher-public-key") o.security.dispatcher_public_key = value;
    else if (key == "groups-public-key") o.security.groups_public_key = value;
    else if (key == "insecure") o.security.insecure = boolean(value, at);
    // Any other key belongs to a service or a tool.
  }
  // As every program: a network endpoint needs keys, or plain TCP said out loud.
  const std::pair<const std::string*, const std::string*> uses[] = {
      {&o.writer_endpoint, &o.security.writer_public_key},
      {&o.reader_endpoint, &o.security.reader_public_key},
      {&o.feed_endpoint, &o.security.dispatcher_public_key},
      {groups_named ? &o.groups_endpoint : nullptr, &o.security.groups_public_key}};
  for (const auto& [endpoint, server_key] : uses) {
    if (!endpoint) continue;
    if (o.security.insecure || !curve::needs_keys(*endpoint)) continue;
    if (o.security.secret_key.empty())
      throw std::runtime_error(path + ": " + *endpoint +
                               " is a network endpoint: set curve-secret-key (and the servers' public keys), or "
                               "insecure = true for plain TCP");
  }
  return o;
}

}  // namespace even::client
