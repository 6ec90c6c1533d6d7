// CommitThread: runs GroupCommitter::commit on a thread of its own, one batch at a time.
//
// While the store works on batch k, the writer's socket thread answers batch k-1, publishes it
// to the dispatcher and decodes the requests that will form batch k+1; batches still commit
// strictly one after another on the one connection, so id order stays commit order and every
// recovery rule of GroupCommitter holds unchanged. Only the socket thread calls the methods
// below.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "even/common/net.h"
#include "writer/group_committer.h"

namespace even::writer {

class CommitThread {
 public:
  struct Result {
    std::vector<AppendOutcome> outcomes;      // one per command of the batch, in order
    std::vector<RecordedEvent> committed;    // their positions, for the feed (GroupCommitter::commit)
    std::exception_ptr error;                 // what commit() threw (NotMaster, SQLException)
    double seconds = 0;                       // time inside commit()
  };

  // `stopping` is passed on to GroupCommitter::commit (it is called on the commit thread).
  CommitThread(GroupCommitter& committer, std::function<bool()> stopping);
  ~CommitThread();  // waits for a batch in progress, then joins
  CommitThread(const CommitThread&) = delete;
  CommitThread& operator=(const CommitThread&) = delete;

  // Starts committing `batch`. Only when !busy().
  void submit(std::vector<AppendCommand> batch);
  // A batch was submitted and its result not yet taken.
  bool busy() const { return busy_; }
  // Readable when a result is ready (poll it beside the sockets; take() drains it).
  int fd() const { return ready_.fd(); }
  // The result of the submitted batch: nullopt when still running (try_take), or waits (take).
  std::optional<Result> try_take();
  Result take();

 private:
  void run();

  GroupCommitter& committer_;
  std::function<bool()> stopping_;
  net::Wakeup ready_;
  bool busy_ = false;  // socket thread only

  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::vector<AppendCommand>> job_;  // guarded by mu_
  std::optional<Result> result_;                   // guarded by mu_
  bool quit_ = false;                              // guarded by mu_
  std::thread thread_;
};

}  // namespace even::writer
