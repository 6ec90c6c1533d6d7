#include "groups/groups_options.h"

namespace even::groups {

namespace po = config::po;

void add_options(po::options_description& desc, GroupsOptions& g) {
  po::options_description section("even-groups: [groups] in the config file, --groups.KEY as flags");
  section.add_options()
      ("groups.poll-ms", config::milliseconds(g.poll), "read the store head this often for new events")
      ("groups.hole-settle-ms", config::milliseconds(g.hole_settle),
       "a store head is handed out once this old and no transaction below it is open (the dispatcher's hole rule)")
      ("groups.hole-safety-ms", config::milliseconds(g.hole_safety),
       "where the server cannot run the locking check: a head is handed out once this old")
      ("groups.consumer-timeout-ms", config::milliseconds(g.consumer_timeout),
       "a consumer silent this long (no heartbeat, ack or nack) is dropped and what it holds goes to the others")
      ("groups.save-interval-ms", config::milliseconds(g.save_interval),
       "write changed checkpoints to the store at most this often")
      ("groups.max-buffered-events", po::value(&g.max_buffered)->default_value(g.max_buffered),
       "unsettled events held in memory per group (waiting and in flight)")
      ("groups.max-consumers", po::value(&g.max_consumers)->default_value(g.max_consumers),
       "consumers of all groups at once; a subscribe beyond gets an unavailable error (the client retries)")
      ("groups.max-request-bytes", po::value(&g.max_request_bytes)->default_value(g.max_request_bytes),
       "largest request accepted; larger ones get a tooLarge error")
      ("groups.recv-hwm", po::value(&g.recv_hwm)->default_value(g.recv_hwm),
       "requests queued in ZeroMQ per connection")
      ("groups.send-hwm", po::value(&g.send_hwm)->default_value(g.send_hwm),
       "replies and deliveries queued per connection; beyond it they are dropped (deliveries come back after the "
       "ack timeout)");
  desc.add(section);
}

void finish_options(const GroupsOptions& g) {
  auto in = [](std::chrono::milliseconds v, long lo, long hi) { return v.count() >= lo && v.count() <= hi; };
  if (!in(g.poll, 1, 60000)) throw po::error("--groups.poll-ms must be 1..60000");
  if (!in(g.hole_settle, 0, 60000)) throw po::error("--groups.hole-settle-ms must be 0..60000");
  if (!in(g.hole_safety, 0, 3600000)) throw po::error("--groups.hole-safety-ms must be 0..3600000");
  if (!in(g.consumer_timeout, 100, 3600000)) throw po::error("--groups.consumer-timeout-ms must be 100..3600000");
  if (!in(g.save_interval, 1, 60000)) throw po::error("--groups.save-interval-ms must be 1..60000");
  if (g.max_buffered < 1 || g.max_buffered > 10000000) throw po::error("--groups.max-buffered-events must be 1..10000000");
  if (g.max_consumers < 1 || g.max_consumers > 1000000) throw po::error("--groups.max-consumers must be 1..1000000");
  if (g.max_request_bytes < 1024) throw po::error("--groups.max-request-bytes must be at least 1024");
  if (g.recv_hwm < 0 || g.send_hwm < 0) throw po::error("--groups.recv-hwm and --groups.send-hwm must not be negative");
}

}  // namespace even::groups
