// evenctl stream delete|truncate|meta|info: a stream's lifecycle (services/writer/README.md,
// "Stream lifecycle"). Prints the stream's state after the change as one JSON line.
#include <iostream>

#include <nlohmann/json.hpp>

#include "evenctl/commands.h"

namespace even::ctl {

namespace {

nlohmann::json state_json(const std::string& stream, const client::StreamState& s) {
  nlohmann::json j{{"stream", stream},          {"exists", s.exists},
                   {"version", s.version.value()}, {"deleted", s.deleted},
                   {"tombstoned", s.tombstoned},   {"truncate_before", s.truncate_before.value()}};
  j["max_count"] = s.metadata.max_count ? nlohmann::json(*s.metadata.max_count) : nlohmann::json(nullptr);
  j["max_age_s"] = s.metadata.max_age ? nlohmann::json(double(s.metadata.max_age->count()) / 1e6) : nlohmann::json(nullptr);
  return j;
}

// A whole number >= `min` for `option`; throws po::error naming the option otherwise.
std::int64_t parse_count(const std::string& text, const std::string& option, std::int64_t min) {
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || v < min)
    throw config::po::error(option + " must be a whole number >= " + std::to_string(min) + ", got '" + text + "'");
  return v;
}

}  // namespace

int cmd_stream(int argc, char** argv) {
  namespace po = config::po;
  client::ClientOptions co;
  int timeout_ms = 0;
  std::vector<std::string> words;
  std::string expected = "any", before, max_count, max_age;
  bool hard = false;
  po::options_description desc("evenctl stream options");
  desc.add_options()
      ("what", po::value(&words)->multitoken(), "delete, truncate, meta or info, then the stream")
      ("hard", po::bool_switch(&hard), "delete: a tombstone (the stream can never be written again)")
      ("before", po::value(&before), "truncate: hide the events below this stream sequence (>= 1)")
      ("max-count", po::value(&max_count), "meta: keep only the last N events visible (0: no limit)")
      ("max-age", po::value(&max_age), "meta: hide events older than this many seconds (0: no limit)")
      ("expected", po::value(&expected)->default_value(expected),
       "any, no-stream, exists, or the stream's current version (>= 1)");
  add_client_options(desc, co, timeout_ms);
  po::positional_options_description pos;
  pos.add("what", -1);
  const char* usage =
      "Usage: evenctl stream delete STREAM [--hard] [--expected V]\n"
      "       evenctl stream truncate STREAM --before N [--expected V]\n"
      "       evenctl stream meta STREAM [--max-count N] [--max-age SECONDS] [--expected V]   (no limit: 0)\n"
      "       evenctl stream info STREAM";
  auto vm = config::parse(argc, argv, desc, usage, &pos);
  if (!vm) return 0;
  finish_client_options(co, timeout_ms);
  if (words.size() != 2) throw po::error(usage);
  const std::string& what = words[0];
  if (what != "delete" && what != "truncate" && what != "meta" && what != "info")
    throw po::error("unknown stream command '" + what + "'\n" + usage);
  const std::string& stream = words[1];
  auto ex = ExpectedVersion::parse(expected);
  if (!ex) throw po::error("--expected must be any, no-stream, exists or a version >= 1, got '" + expected + "'");
  client::StreamMetadata meta;
  if (what == "truncate" && before.empty()) throw po::error("stream truncate needs --before N");
  const std::int64_t before_seq = before.empty() ? 0 : parse_count(before, "--before", 1);
  if (what == "meta") {
    if (max_count.empty() && max_age.empty()) throw po::error("stream meta needs --max-count and/or --max-age");
    if (!max_count.empty())
      if (auto n = parse_count(max_count, "--max-count", 0); n > 0) meta.max_count = n;
    if (!max_age.empty())
      if (auto s = parse_count(max_age, "--max-age", 0); s > 0) {
        // (in microseconds on the wire: 100 years at most, far from overflowing)
        if (s > 100LL * 365 * 24 * 3600) throw po::error("--max-age must be at most 3153600000 seconds (100 years)");
        meta.max_age = std::chrono::seconds(s);
      }
  }
  client::Client c(co);
  return guarded([&] {
    client::StreamState s;
    if (what == "delete") s = c.delete_stream(stream, hard, *ex);
    else if (what == "truncate") s = c.truncate_stream(stream, StreamSeq(before_seq), *ex);
    else if (what == "meta") {
      // Unchanged limits are kept: read them first when only one is given.
      if (max_count.empty() || max_age.empty()) {
        auto now = c.stream_info(stream).metadata;
        if (max_count.empty()) meta.max_count = now.max_count;
        if (max_age.empty()) meta.max_age = now.max_age;
      }
      s = c.set_stream_metadata(stream, meta, *ex);
    } else {
      s = c.stream_info(stream);
    }
    std::cout << state_json(stream, s).dump() << "\n";
    return 0;
  });
}

}  // namespace even::ctl
