// evenctl group: persistent subscription groups through even-groups (services/groups/README.md).
#include <iostream>
#include <nlohmann/json.hpp>

#include "even/client/persistent_subscription.h"
#include "evenctl/commands.h"

namespace even::ctl {

namespace {

namespace po = config::po;
using json = nlohmann::ordered_json;

const char* kUsage =
    "Usage: evenctl group create NAME (--stream S | --category C | --type T | --all) [--max-retries N]\n"
    "                    [--ack-timeout-ms MS] [--max-in-flight N] [--ordering per-stream|unordered] [--start-from N]\n"
    "       evenctl group list [--json]\n"
    "       evenctl group delete NAME\n"
    "       evenctl group replay-parked NAME\n"
    "options";

const char* source_name(client::GroupSource s) {
  switch (s) {
    case client::GroupSource::stream: return "stream";
    case client::GroupSource::category: return "category";
    case client::GroupSource::event_type: return "type";
    case client::GroupSource::all: return "all";
  }
  return "?";
}

}  // namespace

int cmd_group(int argc, char** argv) {
  client::ClientOptions co;
  int timeout_ms = 0;
  std::vector<std::string> words;
  std::string stream, category, type, ordering = "per-stream", start_from = "0";
  bool all = false, as_json = false;
  client::GroupSettings s;
  std::uint32_t ack_timeout_ms = static_cast<std::uint32_t>(s.ack_timeout.count());
  po::options_description desc(kUsage);
  desc.add_options()
      ("words", po::value(&words)->multitoken(), "the action and the group's name")
      ("stream", po::value(&stream), "create: the group hands out this stream's events")
      ("category", po::value(&category), "create: ... this category's (stream names' part before the first '-')")
      ("type", po::value(&type), "create: ... this event type's")
      ("all", po::bool_switch(&all), "create: ... every event ($all)")
      ("max-retries", po::value(&s.max_retries)->default_value(s.max_retries),
       "create: deliveries after the first before an event is parked")
      ("ack-timeout-ms", po::value(&ack_timeout_ms)->default_value(ack_timeout_ms),
       "create: a delivery unacked this long goes to another consumer")
      ("max-in-flight", po::value(&s.max_in_flight)->default_value(s.max_in_flight),
       "create: unacked deliveries per consumer, at most")
      ("ordering", po::value(&ordering)->default_value(ordering),
       "create: per-stream (one stream's events to one consumer at a time, in order) or unordered")
      ("start-from", po::value(&start_from)->default_value(start_from), "create: first global position")
      ("json", po::bool_switch(&as_json), "list: one JSON object per group");
  add_client_options(desc, co, timeout_ms);
  po::positional_options_description pos;
  pos.add("words", -1);
  auto vm = config::parse(argc, argv, desc, kUsage, &pos);
  if (!vm) return 0;
  finish_client_options(co, timeout_ms);
  config::check_client_keys(co.security, co.groups_endpoint, config::Server::groups, "groups-endpoint");
  if (words.empty()) throw po::error("say what to do: create, list, delete or replay-parked");
  const std::string action = words[0];
  const bool named = action == "create" || action == "delete" || action == "replay-parked";
  if (!named && action != "list") throw po::error("unknown action '" + action + "': create, list, delete or replay-parked");
  if (named && words.size() != 2) throw po::error("evenctl group " + action + " takes one group name");
  if (!named && words.size() != 1) throw po::error("evenctl group list takes no name");

  if (action == "create") {
    const int sources = int(!stream.empty()) + int(!category.empty()) + int(!type.empty()) + int(all);
    if (sources != 1) throw po::error("create takes exactly one of --stream, --category, --type, --all");
    if (!stream.empty()) s.source = client::GroupSource::stream, s.value = stream;
    if (!category.empty()) s.source = client::GroupSource::category, s.value = category;
    if (!type.empty()) s.source = client::GroupSource::event_type, s.value = type;
    if (all) s.source = client::GroupSource::all;
    if (ordering == "per-stream") s.ordering = client::GroupOrdering::per_stream;
    else if (ordering == "unordered") s.ordering = client::GroupOrdering::unordered;
    else throw po::error("--ordering must be per-stream or unordered, got '" + ordering + "'");
    s.ack_timeout = std::chrono::milliseconds(ack_timeout_ms);
    s.start_from = parse_global_seq(start_from, "--start-from");
  }
  return guarded([&] {
    client::GroupsClient groups(co);
    if (action == "create") {
      groups.create(words[1], s);
      std::cout << "created group " << words[1] << " (parked events go to parked-" << words[1] << ")\n";
    } else if (action == "delete") {
      groups.remove(words[1]);
      std::cout << "deleted group " << words[1] << " (its parked stream stays)\n";
    } else if (action == "replay-parked") {
      const auto n = groups.replay_parked(words[1]);
      std::cout << "replaying " << n << " parked events of group " << words[1] << "\n";
    } else {
      for (const auto& g : groups.list()) {
        if (as_json) {
          json j = {{"name", g.name},
                    {"source", source_name(g.settings.source)},
                    {"value", g.settings.value},
                    {"ordering", g.settings.ordering == client::GroupOrdering::unordered ? "unordered" : "per-stream"},
                    {"max_retries", g.settings.max_retries},
                    {"ack_timeout_ms", g.settings.ack_timeout.count()},
                    {"max_in_flight", g.settings.max_in_flight},
                    {"checkpoint", g.checkpoint.value()},
                    {"consumers", g.consumers},
                    {"in_flight", g.in_flight},
                    {"parked", g.parked},
                    {"parked_stream", g.parked_stream},
                    {"delivered", g.delivered},
                    {"redelivered", g.redelivered},
                    {"acked", g.acked},
                    {"replay_pending", g.replay_pending}};
          std::cout << j.dump() << "\n";
        } else {
          std::cout << g.name << "  " << source_name(g.settings.source) << (g.settings.value.empty() ? "" : " ")
                    << g.settings.value << "  checkpoint " << g.checkpoint.value() << "  consumers " << g.consumers
                    << "  in flight " << g.in_flight << "  parked " << g.parked << " (" << g.parked_stream << ")\n";
        }
      }
    }
    return 0;
  });
}

}  // namespace even::ctl
