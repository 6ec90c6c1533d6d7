// evenctl tail: follows the live feed through a CatchUpSubscription and prints one JSON line per
// event as it arrives (history first when --from is given), until SIGINT/SIGTERM. The
// subscription's state changes (live, feed unreachable: following the store through the reader)
// go to stderr, so stdout stays JSON lines.
#include <iostream>
#include <nlohmann/json.hpp>

#include "even/client/subscription.h"
#include "even/common/net.h"
#include "evenctl/commands.h"

namespace even::ctl {

namespace {

using json = nlohmann::ordered_json;

}  // namespace

int cmd_tail(int argc, char** argv) {
  namespace po = config::po;
  client::ClientOptions co;
  int timeout_ms = 0;
  std::string from_text = "0";
  client::Filter filter;
  po::options_description desc("evenctl tail options");
  desc.add_options()
      ("from", po::value(&from_text)->default_value(from_text),
       "start at this global seq (history first); 0: only events stored from now on")
      ("category", po::value(&filter.categories)->multitoken(), "only these categories (repeatable)")
      ("type", po::value(&filter.event_types)->multitoken(), "only these event types (repeatable)");
  add_client_options(desc, co, timeout_ms);
  auto vm = config::parse(argc, argv, desc,
                          "evenctl tail [--from N] [--category C] [--type T]: print events as they arrive, one JSON "
                          "line each, until interrupted");
  if (!vm) return 0;
  finish_client_options(co, timeout_ms);
  std::uint64_t from = parse_global_seq(from_text, "--from").value();

  const int shutdown = net::shutdown_fd();
  client::Client client(co);
  if (from == 0) from = client.head().value() + 1;  // from now on (needs the reader)
  client::SubscriptionOptions so;
  so.on_state_change = [](client::SubscriptionState state, const std::string& detail) {
    std::cerr << "evenctl tail: " << client::to_string(state) << ": " << detail << std::endl;
  };
  auto sub = client.subscribe(GlobalSeq(from), filter,
                              [](const client::RecordedEvent& e) { print_event_json(e, std::nullopt, true); }, so);
  while (!net::shutdown_requested() && !sub->error()) {
    zmq::pollitem_t items[] = {{nullptr, shutdown, ZMQ_POLLIN, 0}};
    net::poll(items, 1, std::chrono::milliseconds(200));
  }
  sub->stop();
  if (auto err = sub->error()) std::rethrow_exception(err);
  return 0;
}

}  // namespace even::ctl
