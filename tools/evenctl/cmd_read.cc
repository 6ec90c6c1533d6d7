// evenctl read, read-all, head, stream-version: reads through even-reader, one JSON line per event.
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>

#include "evenctl/commands.h"

namespace even::ctl {

namespace {

namespace po = config::po;
using json = nlohmann::ordered_json;  // keys in the order written

bool valid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : 99;
    if (n == 99 || i + n >= s.size()) return false;  // bad lead byte, or truncated sequence
    for (std::size_t k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    i += n + 1;
  }
  return true;
}

std::string base64(const std::string& in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

// Bytes as JSON: embedded when they parse as JSON (and `try_json`), a string when they are UTF-8,
// otherwise base64 with `key`_encoding = "base64" beside it.
void put_bytes(json& out, const std::string& key, const std::string& bytes, bool try_json) {
  if (try_json && !bytes.empty()) {
    auto parsed = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_discarded()) {
      out[key] = std::move(parsed);
      return;
    }
  }
  if (valid_utf8(bytes)) {
    out[key] = bytes;
  } else {
    out[key] = base64(bytes);
    out[key + "_encoding"] = "base64";
  }
}

void print_event(const client::RecordedEvent& e) {
  json j;
  j["global_seq"] = e.global_seq.value();
  j["stream"] = e.stream;
  j["stream_seq"] = e.stream_seq.value();
  j["type"] = e.type;
  j["event_id"] = e.id.to_string();
  j["created_at_us"] = e.created_at_us;
  j["payload_format"] = e.format == client::PayloadFormat::json ? "json" : "binary";
  put_bytes(j, "metadata", e.metadata, true);
  put_bytes(j, "payload", e.payload, e.format == client::PayloadFormat::json);
  std::cout << j.dump() << '\n';
}

int print_all(client::EventStream&& events) {
  for (const auto& e : events) print_event(e);
  std::cout.flush();
  return 0;
}

// Runs `body` and turns the client's exceptions into a message and exit code 1 (3 for not found).
template <typename F>
int guarded(F&& body) {
  try {
    return body();
  } catch (const client::NotFound& err) {
    std::cerr << "evenctl: " << err.what() << "\n";
    return 3;
  } catch (const client::Error& err) {
    std::cerr << "evenctl: " << err.what() << "\n";
    return 1;
  }
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
      ("from", po::value(&from), "first stream sequence (default: 1, or the last one with --backward)")
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
  std::uint64_t from = 0;
  std::size_t max = std::numeric_limits<std::size_t>::max();
  client::Filter filter;
  po::options_description desc("evenctl read-all options");
  desc.add_options()
      ("from", po::value(&from)->default_value(from), "first global sequence (inclusive)")
      ("category", po::value(&filter.categories)->composing(), "only this category (repeatable)")
      ("type", po::value(&filter.event_types)->composing(), "only this event type (repeatable)")
      ("max", po::value(&max), "print at most this many events");
  add_client_options(desc, co, timeout_ms);
  auto vm = config::parse(argc, argv, desc,
                          "Usage: evenctl read-all [--from N] [--category C]... [--type T]... [--max N] [options]");
  if (!vm) return 0;
  finish_client_options(co, timeout_ms);
  client::Client c(co);
  return guarded([&] { return print_all(c.read_all(GlobalSeq(from), filter, max)); });
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
