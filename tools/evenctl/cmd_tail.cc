// evenctl tail: follows the live feed through a CatchUpSubscription and prints one JSON line per
// event as it arrives (history first when --from is given), until SIGINT/SIGTERM.
#include <iostream>
#include <nlohmann/json.hpp>

#include "even/client/subscription.h"
#include "even/common/net.h"
#include "evenctl/commands.h"

namespace even::ctl {

namespace {

using json = nlohmann::ordered_json;

void print_tail_event(const client::RecordedEvent& e) {
  json j;
  j["global_seq"] = e.global_seq.value();
  j["stream"] = e.stream;
  j["stream_seq"] = e.stream_seq.value();
  j["type"] = e.type;
  j["event_id"] = e.id.to_string();
  j["created_at_us"] = e.created_at_us;
  j["payload_format"] = e.format == client::PayloadFormat::json ? "json" : "binary";
  auto embed = [&](const char* key, const std::string& bytes, bool try_json) {
    if (try_json && !bytes.empty()) {
      auto parsed = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
      if (!parsed.is_discarded()) {
        j[key] = std::move(parsed);
        return;
      }
    }
    j[key] = bytes;  // invalid UTF-8 is replaced when dumped
  };
  embed("metadata", e.metadata, true);
  embed("payload", e.payload, e.format == client::PayloadFormat::json);
  std::cout << j.dump(-1, ' ', false, json::error_handler_t::replace) << std::endl;  // flushed per line
}

}  // namespace

int cmd_tail(int argc, char** argv) {
  namespace po = config::po;
  client::ClientOptions co;
  int timeout_ms = 0;
  std::uint64_t from = 0;
  client::Filter filter;
  po::options_description desc("evenctl tail options");
  desc.add_options()
      ("from", po::value(&from)->default_value(0),
       "start at this global seq (history first); 0: only events published from now on")
      ("category", po::value(&filter.categories)->multitoken(), "only these categories (repeatable)")
      ("type", po::value(&filter.event_types)->multitoken(), "only these event types (repeatable)");
  add_client_options(desc, co, timeout_ms);
  auto vm = config::parse(argc, argv, desc,
                          "evenctl tail [--from N] [--category C] [--type T]: print events as they arrive, one JSON "
                          "line each, until interrupted");
  if (!vm) return 0;
  finish_client_options(co, timeout_ms);

  const int shutdown = net::shutdown_fd();
  client::Client client(co);
  if (from == 0) from = client.head().value() + 1;  // from now on (needs the reader)
  auto sub = client.subscribe(GlobalSeq(from), filter, print_tail_event);
  while (!net::shutdown_requested() && !sub->error()) {
    zmq::pollitem_t items[] = {{nullptr, shutdown, ZMQ_POLLIN, 0}};
    net::poll(items, 1, std::chrono::milliseconds(200));
  }
  sub->stop();
  if (auto err = sub->error()) std::rethrow_exception(err);
  return 0;
}

}  // namespace even::ctl
