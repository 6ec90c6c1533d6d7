// The one JSON-lines form of an event that evenctl prints (read, read-all, tail, read-projection).
#include <iostream>
#include <nlohmann/json.hpp>

#include "evenctl/commands.h"

namespace even::ctl {

namespace {

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

}  // namespace

void print_event_json(const client::RecordedEvent& e, std::optional<ProjectionSeq> projection_seq, bool flush) {
  json j;
  if (projection_seq) j["seq"] = projection_seq->value();
  j["global_seq"] = e.global_seq.value();
  j["stream"] = e.stream;
  j["stream_seq"] = e.stream_seq.value();
  j["type"] = e.type;
  j["event_id"] = e.id.to_string();
  j["created_at_us"] = e.created_at_us;
  j["payload_format"] = e.format == client::PayloadFormat::json ? "json" : "binary";
  put_bytes(j, "metadata", e.metadata, true);
  put_bytes(j, "payload", e.payload, e.format == client::PayloadFormat::json);
  std::cout << j.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
  if (flush) std::cout.flush();
}

}  // namespace even::ctl
