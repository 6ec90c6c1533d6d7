// The Account aggregate of the bank example: open, deposit, withdraw with a no-overdraft rule.
// Streams "account-<id>". Amounts are whole units (int64).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "even/client/aggregate.h"
#include "even/client/event_types.h"

namespace bank {

// --- events ---------------------------------------------------------------------------------

// Version 1 was {"name": ...}; version 2 renamed it to "owner" and added "currency" (the upcaster
// in account_event_types() turns old events into the new shape).
struct AccountOpened {
  static constexpr std::string_view kType = "AccountOpened";
  static constexpr int kSchemaVersion = 2;
  std::string owner;
  std::string currency = "EUR";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(AccountOpened, owner, currency)

// `reference`: the transfer it belongs to ("" for a plain deposit / withdrawal).
struct Deposited {
  static constexpr std::string_view kType = "Deposited";
  std::int64_t amount = 0;
  std::string reference;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Deposited, amount, reference)

struct Withdrawn {
  static constexpr std::string_view kType = "Withdrawn";
  std::int64_t amount = 0;
  std::string reference;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Withdrawn, amount, reference)

using AccountEvent = std::variant<AccountOpened, Deposited, Withdrawn>;

// --- state and commands -----------------------------------------------------------------------

struct AccountState {
  bool open = false;
  std::string owner;
  std::string currency;
  std::int64_t balance = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(AccountState, open, owner, currency, balance)

struct OpenAccount {
  std::string owner;
};
struct Deposit {
  std::int64_t amount = 0;
  std::string reference;
};
struct Withdraw {
  std::int64_t amount = 0;
  std::string reference;
};
using AccountCommand = std::variant<OpenAccount, Deposit, Withdraw>;

struct Account {
  static constexpr std::string_view kCategory = "account";
  using State = AccountState;
  using Event = AccountEvent;
  using Command = AccountCommand;

  static void apply(State& s, const Event& e);
  // Rejects: opening twice, an empty owner, commands on an account not opened, amounts <= 0,
  // and withdrawals above the balance (no overdraft).
  static even::client::Decision<Event> decide(const State& s, const Command& c);
};

// The account event types with their upcasters (AccountOpened v1 -> v2). One shared instance.
const even::client::EventTypes<AccountEvent>& account_event_types();

}  // namespace bank
