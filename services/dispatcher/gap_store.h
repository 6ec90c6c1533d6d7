// GapStore: what the dispatcher asks the event store while it fills gaps, as an interface so that
// tests can inject faults and late commits (leveldb's EnvWrapper idea); MysqlGapStore is the real one.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "even/common/config.h"
#include "even/common/store/events.h"
#include "even/common/store/mysql.h"
#include "even/common/store/session.h"
#include "even/common/types.h"

namespace even::dispatcher {

// The global seqs from..to, both included.
struct SeqRange {
  GlobalSeq from;
  GlobalSeq to;
};

class GapStore {
 public:
  virtual ~GapStore() = default;
  // Committed events with from <= global_seq <= to, in global order, at most `limit` of them.
  virtual std::vector<RecordedEvent> read_range(GlobalSeq from, GlobalSeq to, std::size_t limit) = 0;
  // Committed events in any of `ranges` (ascending, disjoint, each from <= to), in global order.
  // MySQL: one statement, by primary key. This default reads each range with read_range().
  virtual std::vector<RecordedEvent> read_ranges(const std::vector<SeqRange>& ranges);
  // The largest committed global sequence (0 for an empty store).
  virtual GlobalSeq head() = 0;
  // Whether an open transaction holds an inserted, uncommitted event in [from, to]: such an
  // event may still commit. nullopt when the store cannot tell (then the caller falls back to a
  // time rule). MySQL: a locking read with NOWAIT, which fails on the inserter's row lock.
  virtual std::optional<bool> uncommitted_in(GlobalSeq from, GlobalSeq to) = 0;
  // For logs: the open transactions that changed rows (may be empty when unknown).
  virtual std::string describe_open_transactions() { return ""; }
  // The last committed event of `category` below `before` (0 when none).
  virtual GlobalSeq last_in_category(std::string_view category, GlobalSeq before) = 0;
};

// GapStore over one MySQL connection, opened lazily and dropped after a connection error (the
// next call reconnects). Store errors are thrown as sql::SQLException.
// Not thread-safe: the dispatcher's thread is its only user.
class MysqlGapStore final : public GapStore {
 public:
  explicit MysqlGapStore(config::DbOptions db) : session_(std::move(db)) {}

  std::vector<RecordedEvent> read_range(GlobalSeq from, GlobalSeq to, std::size_t limit) override;
  std::vector<RecordedEvent> read_ranges(const std::vector<SeqRange>& ranges) override;
  GlobalSeq head() override;
  std::optional<bool> uncommitted_in(GlobalSeq from, GlobalSeq to) override;
  std::string describe_open_transactions() override;
  GlobalSeq last_in_category(std::string_view category, GlobalSeq before) override;

  // Calls that the store answered, since construction: the dispatcher's readiness turns back to
  // ready once this moves after a store error.
  std::uint64_t answers() const { return answers_; }

 private:
  template <typename F>
  auto guarded(F&& f) -> decltype(f(std::declval<store::Connection&>()));

  // Leaves a demoted primary (a replica was promoted) about once a second: it no longer gets the
  // writer's commits, so its missing rows are no holes.
  store::Session session_;
  bool no_lock_check_ = false;  // the server refused LOCK IN SHARE MODE NOWAIT: stop asking
  std::uint64_t answers_ = 0;
};

}  // namespace even::dispatcher
