// An in-memory GapStore for GapTracker tests: events "commit" when the test says so, and
// transactions the test opens hold ids the way InnoDB's AUTO_INCREMENT does.
#pragma once

#include <map>
#include <set>

#include "dispatcher/gap_store.h"

namespace even::test {

class FakeGapStore final : public dispatcher::GapStore {
 public:
  // A committed event at `seq`.
  void commit(std::uint64_t seq, const std::string& stream = "fake-1") {
    store::StoredEvent e;
    e.global_seq = GlobalSeq(seq);
    e.stream = stream;
    e.type = "Fake";
    committed[seq] = e;
    open.erase(seq);
  }
  // An id allocated by a transaction that is still open (started at the current fake time).
  void begin(std::uint64_t seq) { open[seq] = clock; }
  void rollback(std::uint64_t seq) { open.erase(seq); }

  std::vector<store::StoredEvent> read_range(GlobalSeq from, GlobalSeq to, std::size_t limit) override {
    ++reads;
    if (fail_next) {
      fail_next = false;
      throw sql::SQLException("injected", "HY000", 2013);
    }
    std::vector<store::StoredEvent> out;
    for (auto it = committed.lower_bound(from.value()); it != committed.end() && it->first <= to.value(); ++it) {
      if (out.size() >= limit) break;
      out.push_back(it->second);
    }
    return out;
  }
  GlobalSeq head() override { return GlobalSeq(committed.empty() ? 0 : committed.rbegin()->first); }
  std::string now() override { return std::to_string(++clock); }
  std::optional<bool> transactions_open_since(const std::string& since) override {
    ++trx_checks;
    if (!can_list_transactions) return std::nullopt;
    const long t = std::stol(since);
    for (const auto& [seq, started] : open)
      if (started <= t) return true;
    return false;
  }
  GlobalSeq last_in_category(std::string_view, GlobalSeq before) override {
    auto it = committed.lower_bound(before.value());
    if (it == committed.begin()) return GlobalSeq(0);
    return GlobalSeq(std::prev(it)->first);
  }

  std::map<std::uint64_t, store::StoredEvent> committed;
  std::map<std::uint64_t, long> open;  // id -> fake start time of its transaction
  long clock = 0;
  bool can_list_transactions = true;
  bool fail_next = false;
  int reads = 0;
  int trx_checks = 0;
};

}  // namespace even::test
