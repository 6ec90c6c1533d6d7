#include "writer/writer_options.h"

namespace even::writer {

namespace po = config::po;

void add_options(po::options_description& desc, WriterOptions& w) {
  po::options_description section("even-writer: [writer] in the config file, --writer.KEY as flags");
  section.add_options()
      ("writer.max-batch-requests", po::value(&w.max_batch_requests)->default_value(w.max_batch_requests),
       "appends committed together in one transaction, at most")
      ("writer.max-batch-events", po::value(&w.max_batch_events)->default_value(w.max_batch_events),
       "events committed together in one transaction, at most")
      ("writer.batch-window-us", po::value(&w.batch_window_us)->default_value(w.batch_window_us),
       "after the request queue drains, wait this many microseconds for more before committing")
      ("writer.max-message-bytes", po::value(&w.limits.max_message_bytes)->default_value(w.limits.max_message_bytes),
       "largest request accepted; larger ones get a tooLarge error")
      ("writer.max-events-per-append", po::value(&w.max_events_per_append)->default_value(w.max_events_per_append),
       "events one append may carry")
      ("writer.recv-hwm", po::value(&w.recv_hwm)->default_value(w.recv_hwm),
       "requests queued per client connection before the client feels pushback")
      ("writer.lock-name", po::value(&w.committer.lock_name)->default_value(w.committer.lock_name),
       "name of the master lock (GET_LOCK); empty: even-writer:<db-name>")
      ("writer.no-standby",
       po::bool_switch()->default_value(!w.committer.standby)->notifier([&w](bool v) { w.committer.standby = !v; }),
       "exit with an error when another writer is master, instead of waiting as a standby; and exit with code 3 "
       "when the master lock is lost, instead of becoming a standby again");
  desc.add(section);
}

void finish_options(const WriterOptions& w) {
  if (w.max_batch_requests < 1) throw po::error("--writer.max-batch-requests must be at least 1");
  if (w.max_batch_events < 1) throw po::error("--writer.max-batch-events must be at least 1");
  if (w.batch_window_us < 0) throw po::error("--writer.batch-window-us must not be negative");
  if (w.limits.max_message_bytes < 1024) throw po::error("--writer.max-message-bytes must be at least 1024");
  if (w.max_events_per_append < 1) throw po::error("--writer.max-events-per-append must be at least 1");
  if (w.recv_hwm < 0) throw po::error("--writer.recv-hwm must not be negative (0: no limit)");
}

}  // namespace even::writer
