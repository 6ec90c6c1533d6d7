#include "dispatcher/dispatcher_options.h"

namespace even::dispatcher {

namespace po = config::po;
using config::milliseconds;

void add_options(po::options_description& desc, DispatcherOptions& d) {
  po::options_description section("even-dispatcher: [dispatcher] in the config file, --dispatcher.KEY as flags");
  section.add_options()
      ("dispatcher.heartbeat-ms", milliseconds(d.heartbeat),
       "heartbeat period; subscribers treat missed heartbeats as a gap")
      ("dispatcher.poll-ms", milliseconds(d.poll), "read the store's head after the writer was silent this long")
      ("dispatcher.gap-wait-ms", milliseconds(d.gap.gap_wait),
       "on a gap, hold later events this long for the missing one before reading the store")
      ("dispatcher.hole-check-ms", milliseconds(d.gap.hole_check),
       "while a missing id may still commit (its transaction is open), check again this often")
      ("dispatcher.hole-settle-ms", milliseconds(d.gap.hole_settle),
       "a missing id becomes a hole no sooner than this after a later id was seen committed, and only "
       "when no open transaction holds an uncommitted event in the range")
      ("dispatcher.hole-safety-ms", milliseconds(d.gap.hole_safety),
       "only if the store cannot run the locking check (LOCK IN SHARE MODE NOWAIT): treat an id "
       "missing this long as a hole")
      ("dispatcher.start-from",
       po::value<std::uint64_t>()
           ->default_value(d.start_from.value_or(0))
           ->notifier([&d](std::uint64_t seq) { d.start_from = seq > 0 ? std::optional(seq) : std::nullopt; }),
       "publish from this global seq (0: from the store's head at start-up)")
      ("dispatcher.max-pending", po::value(&d.gap.max_pending)->default_value(d.gap.max_pending),
       "events held above a gap; more are read back from the store later")
      ("dispatcher.pub-hwm", po::value(&d.pub_hwm)->default_value(d.pub_hwm),
       "messages queued per subscriber before that subscriber's copies are dropped")
      ("dispatcher.pull-hwm", po::value(&d.pull_hwm)->default_value(d.pull_hwm), "feed messages queued from the writer")
      ("dispatcher.test-drop-every", po::value(&d.publisher.test_drop_every)->default_value(d.publisher.test_drop_every),
       "TEST SWITCH: do not send every Nth event on PUB (subscribers must recover from the store)");
  desc.add(section);
}

void finish_options(const DispatcherOptions& d) {
  using std::chrono::milliseconds;
  if (d.heartbeat <= milliseconds(0) || d.poll <= milliseconds(0) || d.gap.hole_check <= milliseconds(0))
    throw po::error("--dispatcher.heartbeat-ms, --dispatcher.poll-ms and --dispatcher.hole-check-ms must be positive");
  if (d.gap.gap_wait < milliseconds(0) || d.gap.hole_settle < milliseconds(0) || d.gap.hole_safety < milliseconds(0))
    throw po::error("--dispatcher.gap-wait-ms, --dispatcher.hole-settle-ms and --dispatcher.hole-safety-ms must not be "
                    "negative");
  if (d.pub_hwm < 0 || d.pull_hwm < 0) throw po::error("--dispatcher.pub-hwm and --dispatcher.pull-hwm must not be negative");
}

}  // namespace even::dispatcher
