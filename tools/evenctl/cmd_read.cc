// evenctl read, read-all, head, stream-version: reads through even-reader, one JSON line per event.
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>

#include "evenctl/commands.h"

namespace even::ctl {

namespace {

namespace po = config::po;
using json = nlohmann::ordered_json;  // keys in the order written

int print_all(client::EventStream&& events) {
  for (const auto& e : events) print_event_json(e);
  std::cout.flush();
  return 0;
}

}  // namespace

int cmd_read(int argc, char** argv) {
  client::ClientOptions co;
  int timeout_ms = 0;
  std::vector<std::string> words;
  std::int64_t from = -1;
  std::size_t max = std::numeric_limits<std::size_t>::max();
  bool backward = false;
  po::options_description desc("evenctl read options");
  desc.add_options()
      ("stream", po::value(&words)->multitoken(), "the stream to read")
      ("from", po::value(&from), "first stream sequence, >= 0 (default: 1, or the last one with --backward)")
      ("backward", po::bool_switch(&backward), "read from `from` down to the first event")
      ("max", po::value(&max), "print at most this many events");
  add_client_options(desc, co, timeout_ms);
  po::positional_options_description pos;
  pos.add("stream", -1);
  auto vm = config::parse(argc, argv, desc, "Usage: evenctl read STREAM [--from N] [--backward] [--max N] [options]",
                          &pos);
  if (!vm) return 0;
  finish_client_options(co, timeout_ms);
  if (words.size() != 1) throw po::error("usage: evenctl read STREAM [--from N] [--backward] [--max N]");
  if (vm->count("from") && from < 0)
    throw po::error("--from must be a stream sequence >= 0, got " + std::to_string(from) +
                    " (leave it out to start at the first event, or the last with --backward)");
  StreamSeq start = from >= 0 ? StreamSeq(from) : backward ? client::kStreamEnd : StreamSeq(1);
  client::Client c(co);
  return guarded([&] {
    return print_all(c.read_stream(words[0], start, backward ? client::Direction::backward : client::Direction::forward,
                                   max));
  });
}

int cmd_read_all(int argc, char** argv) {
  client::ClientOptions co;
  int timeout_ms = 0;
  std::string from_text = "0";
  std::size_t max = std::numeric_limits<std::size_t>::max();
  client::Filter filter;
  po::options_description desc("evenctl read-all options");
  desc.add_options()
      ("from", po::value(&from_text)->default_value(from_text), "first global sequence (inclusive), >= 0")
      ("category", po::value(&filter.categories)->composing(), "only this category (repeatable)")
      ("type", po::value(&filter.event_types)->composing(), "only this event type (repeatable)")
      ("max", po::value(&max), "print at most this many events");
  add_client_options(desc, co, timeout_ms);
  auto vm = config::parse(argc, argv, desc,
                          "Usage: evenctl read-all [--from N] [--category C]... [--type T]... [--max N] [options]");
  if (!vm) return 0;
  finish_client_options(co, timeout_ms);
  const GlobalSeq from = parse_global_seq(from_text, "--from");
  client::Client c(co);
  return guarded([&] { return print_all(c.read_all(from, filter, max)); });
}

int cmd_head(int argc, char** argv) {
  client::ClientOptions co;
  int timeout_ms = 0;
  po::options_description desc("evenctl head options");
  add_client_options(desc, co, timeout_ms);
  auto vm = config::parse(argc, argv, desc, "Usage: evenctl head [options]");
  if (!vm) return 0;
  finish_client_options(co, timeout_ms);
  client::Client c(co);
  return guarded([&] {
    std::cout << json{{"head", c.head().value()}}.dump() << "\n";
    return 0;
  });
}

int cmd_stream_version(int argc, char** argv) {
  client::ClientOptions co;
  int timeout_ms = 0;
  std::vector<std::string> words;
  po::options_description desc("evenctl stream-version options");
  desc.add_options()("stream", po::value(&words)->multitoken(), "the stream");
  add_client_options(desc, co, timeout_ms);
  po::positional_options_description pos;
  pos.add("stream", -1);
  auto vm = config::parse(argc, argv, desc, "Usage: evenctl stream-version STREAM [options]", &pos);
  if (!vm) return 0;
  finish_client_options(co, timeout_ms);
  if (words.size() != 1) throw po::error("usage: evenctl stream-version STREAM");
  client::Client c(co);
  return guarded([&] {
    auto v = c.stream_version(words[0]);
    json j{{"stream", words[0]}, {"exists", v.has_value()}, {"version", v ? v->value() : 0}};
    std::cout << j.dump() << "\n";
    return 0;
  });
}

}  // namespace even::ctl
