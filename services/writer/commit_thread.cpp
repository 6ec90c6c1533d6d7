#include "writer/commit_thread.h"

#include <chrono>

namespace even::writer {

CommitThread::CommitThread(GroupCommitter& committer, std::function<bool()> stopping)
    : committer_(committer), stopping_(std::move(stopping)) {
  thread_ = std::thread([this] { run(); });
}

CommitThread::~CommitThread() {
  {
    std::lock_guard lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CommitThread::submit(std::vector<AppendCommand> batch) {
  {
    std::lock_guard lock(mu_);
    job_ = std::move(batch);
  }
  busy_ = true;
  cv_.notify_all();
}

std::optional<CommitThread::Result> CommitThread::try_take() {
  std::optional<Result> out;
  {
    std::lock_guard lock(mu_);
    if (!result_) return std::nullopt;
    out.swap(result_);
  }
  ready_.drain();
  busy_ = false;
  return out;
}

CommitThread::Result CommitThread::take() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return result_.has_value(); });
  }
  return std::move(*try_take());  // only this thread takes, so the result is still there
}

void CommitThread::run() {
  for (;;) {
    std::vector<AppendCommand> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return quit_ || job_.has_value(); });
      if (!job_) return;  // quit with nothing to do
      batch = std::move(*job_);
      job_.reset();
    }
    Result r;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      r.outcomes = committer_.commit(batch, &r.committed, stopping_);
    } catch (...) {
      r.error = std::current_exception();
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    {
      std::lock_guard lock(mu_);
      result_ = std::move(r);
    }
    cv_.notify_all();
    ready_.notify();
  }
}

}  // namespace even::writer
