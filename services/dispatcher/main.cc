// even-dispatcher: publishes committed events in global order. See services/dispatcher/README.md.
#include "dispatcher/dispatcher_service.h"
#include "even/common/config.h"

namespace {

int dispatcher_main(int argc, char** argv) {
  using namespace even;
  namespace po = config::po;
  config::DbOptions db;
  config::LogOptions log_options;
  dispatcher::DispatcherOptions d;
  int heartbeat_ms = static_cast<int>(d.heartbeat.count());
  int poll_ms = static_cast<int>(d.poll.count());
  int gap_wait_ms = static_cast<int>(d.gap.gap_wait.count());
  int hole_check_ms = static_cast<int>(d.gap.hole_check.count());
  int hole_safety_ms = static_cast<int>(d.gap.hole_safety.count());
  int hole_settle_ms = static_cast<int>(d.gap.hole_settle.count());
  std::uint64_t start_from = 0;

  po::options_description desc("even-dispatcher options");
  desc.add_options()
      ("dispatcher-pull-endpoint", po::value(&d.pull_endpoint)->default_value(d.pull_endpoint),
       "PULL address the writer pushes committed events to (bind)")
      ("dispatcher-pub-endpoint", po::value(&d.pub_endpoint)->default_value(d.pub_endpoint),
       "PUB address subscribers connect to (bind)")
      ("heartbeat-ms", po::value(&heartbeat_ms)->default_value(heartbeat_ms),
       "heartbeat period; subscribers treat missed heartbeats as a gap")
      ("poll-ms", po::value(&poll_ms)->default_value(poll_ms),
       "read the store's head after the writer was silent this long")
      ("gap-wait-ms", po::value(&gap_wait_ms)->default_value(gap_wait_ms),
       "on a gap, hold later events this long for the missing one before reading the store")
      ("hole-check-ms", po::value(&hole_check_ms)->default_value(hole_check_ms),
       "while a missing id may still commit (its transaction is open), check again this often")
      ("hole-settle-ms", po::value(&hole_settle_ms)->default_value(hole_settle_ms),
       "a missing id becomes a hole no sooner than this after a later id was seen committed, and only "
       "when no open transaction holds an uncommitted event in the range")
      ("hole-safety-ms", po::value(&hole_safety_ms)->default_value(hole_safety_ms),
       "only if the store cannot run the locking check (LOCK IN SHARE MODE NOWAIT): treat an id "
       "missing this long as a hole")
      ("start-from", po::value(&start_from)->default_value(0),
       "publish from this global seq (0: from the store's head at start-up)")
      ("max-pending", po::value(&d.gap.max_pending)->default_value(d.gap.max_pending),
       "events held above a gap; more are read back from the store later")
      ("pub-hwm", po::value(&d.pub_hwm)->default_value(d.pub_hwm),
       "messages queued per subscriber before that subscriber's copies are dropped")
      ("pull-hwm", po::value(&d.pull_hwm)->default_value(d.pull_hwm), "feed messages queued from the writer")
      ("test-drop-every", po::value(&d.publisher.test_drop_every)->default_value(0),
       "TEST SWITCH: do not send every Nth event on PUB (subscribers must recover from the store)");
  config::add_db_options(desc, db);
  config::add_log_options(desc, log_options);
  auto vm = config::parse(argc, argv, desc,
                          "even-dispatcher: publishes committed events in global order.\n"
                          "Usage: even-dispatcher [--config FILE] [options]");
  if (!vm) return 0;
  if (heartbeat_ms <= 0 || poll_ms <= 0 || gap_wait_ms < 0 || hole_check_ms <= 0 || hole_safety_ms < 0 || hole_settle_ms < 0)
    throw po::error("--heartbeat-ms, --poll-ms and --hole-check-ms must be positive; waits not negative");
  d.heartbeat = std::chrono::milliseconds(heartbeat_ms);
  d.poll = std::chrono::milliseconds(poll_ms);
  d.gap.gap_wait = std::chrono::milliseconds(gap_wait_ms);
  d.gap.hole_check = std::chrono::milliseconds(hole_check_ms);
  d.gap.hole_safety = std::chrono::milliseconds(hole_safety_ms);
  d.gap.hole_settle = std::chrono::milliseconds(hole_settle_ms);
  if (start_from > 0) d.start_from = start_from;

  auto log = config::make_logger("dispatcher", log_options);
  if (d.publisher.test_drop_every > 0)
    log->warn("TEST SWITCH --test-drop-every {}: every {}th event is not sent", d.publisher.test_drop_every,
              d.publisher.test_drop_every);
  zmq::context_t ctx(1);
  dispatcher::DispatcherService service(ctx, db, d, log);
  return service.run();
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("even-dispatcher", dispatcher_main, argc, argv); }
