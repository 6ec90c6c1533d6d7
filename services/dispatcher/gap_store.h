// GapStore: what the dispatcher asks the event store while it fills gaps, as an interface so that
// tests can inject faults and late commits (leveldb's EnvWrapper idea); MysqlGapStore is the real one.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "even/common/config.h"
#include "even/common/store/events.h"
#include "even/common/store/mysql.h"
#include "even/common/types.h"

namespace even::dispatcher {

class GapStore {
 public:
  virtual ~GapStore() = default;
  // Committed events with from <= global_seq <= to, in global order, at most `limit` of them.
  virtual std::vector<store::StoredEvent> read_range(GlobalSeq from, GlobalSeq to, std::size_t limit) = 0;
  // The largest committed global sequence (0 for an empty store).
  virtual GlobalSeq head() = 0;
  // The store's clock now, as a token for transactions_open_since(). Call it after the events
  // it vouches for were seen committed.
  virtual std::string now() = 0;
  // Whether a transaction that may have allocated an event id (it changed rows) and that started
  // at or before `since` is still open. nullopt when the store cannot tell (e.g. no PROCESS
  // privilege for information_schema.INNODB_TRX); the caller then falls back to a time rule.
  virtual std::optional<bool> transactions_open_since(const std::string& since) = 0;
  // The last committed event of `category` below `before` (0 when none).
  virtual GlobalSeq last_in_category(std::string_view category, GlobalSeq before) = 0;
};

// GapStore over one MySQL connection, opened lazily and dropped after a connection error (the
// next call reconnects). Store errors are thrown as sql::SQLException.
// Not thread-safe: the dispatcher's thread is its only user.
class MysqlGapStore final : public GapStore {
 public:
  explicit MysqlGapStore(config::DbOptions db) : db_(std::move(db)) {}

  std::vector<store::StoredEvent> read_range(GlobalSeq from, GlobalSeq to, std::size_t limit) override;
  GlobalSeq head() override;
  std::string now() override;
  std::optional<bool> transactions_open_since(const std::string& since) override;
  GlobalSeq last_in_category(std::string_view category, GlobalSeq before) override;

 private:
  store::Connection& conn();
  template <typename F>
  auto guarded(F&& f) -> decltype(f(std::declval<store::Connection&>()));

  config::DbOptions db_;
  std::unique_ptr<store::Connection> conn_;
  bool trx_list_denied_ = false;  // INNODB_TRX not readable: stop asking
};

}  // namespace even::dispatcher
