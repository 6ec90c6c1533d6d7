// Transfers between accounts: a Transfer aggregate (streams "transfer-<id>") that records the
// progress of a transfer, and the TransferProcess that drives it: debit the source account, credit
// the target, and when the credit is rejected, compensate by refunding the source.
//
//   started --debit accepted--> debited --credit accepted--> completed
//      |                           |
//      +--debit rejected--> failed +--credit rejected--> refund --> failed (refunded)
//
// Every step is a command caused by the transfer's last event (CommandContext::caused_by), so its
// id is derived from that event: running the process again after a crash repeats no step
// (idempotent commands) and the correlation id of the transfer follows every event it causes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "bank/account.h"
#include "even/client/aggregate.h"

namespace bank {

struct TransferStarted {
  static constexpr std::string_view kType = "TransferStarted";
  std::string from;
  std::string to;
  std::int64_t amount = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TransferStarted, from, to, amount)

struct TransferDebited {
  static constexpr std::string_view kType = "TransferDebited";
  std::int64_t amount = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TransferDebited, amount)

struct TransferCompleted {
  static constexpr std::string_view kType = "TransferCompleted";
  std::int64_t amount = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TransferCompleted, amount)

// `refunded`: the source had been debited and the amount went back to it (compensation).
struct TransferFailed {
  static constexpr std::string_view kType = "TransferFailed";
  std::string reason;
  bool refunded = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TransferFailed, reason, refunded)

using TransferEvent = std::variant<TransferStarted, TransferDebited, TransferCompleted, TransferFailed>;

enum class TransferStatus { none, started, debited, completed, failed };
std::string_view to_string(TransferStatus s);

struct TransferState {
  TransferStatus status = TransferStatus::none;
  std::string from, to;
  std::int64_t amount = 0;
  std::string reason;
  bool refunded = false;
};

struct StartTransfer {
  std::string from, to;
  std::int64_t amount = 0;
};
struct RecordDebit {};
struct CompleteTransfer {};
struct FailTransfer {
  std::string reason;
  bool refunded = false;
};
using TransferCommand = std::variant<StartTransfer, RecordDebit, CompleteTransfer, FailTransfer>;

struct Transfer {
  static constexpr std::string_view kCategory = "transfer";
  using State = TransferState;
  using Event = TransferEvent;
  using Command = TransferCommand;
  static void apply(State& s, const Event& e);
  static even::client::Decision<Event> decide(const State& s, const Command& c);
};

const even::client::EventTypes<TransferEvent>& transfer_event_types();

// The outcome of a transfer as the process left it.
struct TransferOutcome {
  TransferStatus status = TransferStatus::none;
  std::vector<std::string> reasons;  // start rejected, or why it failed
  bool refunded = false;
};

// Drives transfers. Thread-safe (the stores are); the stores must outlive it.
class TransferProcess {
 public:
  TransferProcess(even::client::Client& client, even::client::AggregateStore<Account>& accounts,
                  even::client::AggregateStore<Transfer>& transfers)
      : client_(client), accounts_(accounts), transfers_(transfers) {}

  // Starts transfer `id` (unless it exists) and runs it to completed or failed.
  TransferOutcome transfer(const std::string& id, const StartTransfer& start, const even::client::CommandContext& ctx);
  // Runs an existing transfer from where it stands to its end (after a crash).
  TransferOutcome resume(const std::string& id);

 private:
  even::client::Client& client_;
  even::client::AggregateStore<Account>& accounts_;
  even::client::AggregateStore<Transfer>& transfers_;
};

}  // namespace bank
