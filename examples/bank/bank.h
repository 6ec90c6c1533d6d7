// The bank application: accounts, transfers and a simulation, on top of one Client. What the
// `bank` command line and the example's tests use.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bank/account.h"
#include "bank/transfer.h"
#include "even/client/aggregate.h"
#include "even/client/client.h"

namespace bank {

// Thread-safe; the Client must outlive the Bank.
class Bank {
 public:
  // Accounts snapshot every `snapshot_every` events (0: never).
  explicit Bank(even::client::Client& client, std::int64_t snapshot_every = 50);

  using Result = even::client::CommandResult;
  using Context = even::client::CommandContext;
  Result open(const std::string& account, const std::string& owner, const Context& ctx = {});
  Result deposit(const std::string& account, std::int64_t amount, const Context& ctx = {});
  Result withdraw(const std::string& account, std::int64_t amount, const Context& ctx = {});
  TransferOutcome transfer(const std::string& id, const std::string& from, const std::string& to, std::int64_t amount,
                           const Context& ctx = {});

  even::client::AggregateStore<Account>& accounts() { return accounts_; }
  even::client::AggregateStore<Transfer>& transfers() { return transfers_; }
  TransferProcess& process() { return process_; }

 private:
  even::client::Client& client_;
  even::client::AggregateStore<Account> accounts_;
  even::client::AggregateStore<Transfer> transfers_;
  TransferProcess process_;
};

struct SimulationOptions {
  std::size_t commands = 2000;  // after opening the accounts
  int accounts = 20;
  int clients = 16;             // concurrent command senders
  std::int64_t initial_deposit = 1000;
  std::string prefix;           // account ids are "<prefix>-<n>" (default: a random run id)
  unsigned seed = 0;            // 0: random
};

struct SimulationReport {
  std::string prefix;
  std::size_t commands = 0, accepted = 0, rejected = 0;
  std::size_t transfers_completed = 0, transfers_failed = 0, transfers_refunded = 0;
  std::size_t events = 0;  // events the commands wrote
  double seconds = 0;
  double p50_ms = 0, p99_ms = 0;
  even::GlobalSeq first_global_seq, last_global_seq;
  // account id -> balance computed from the accepted commands alone
  std::map<std::string, std::int64_t> expected_balances;
};

// Opens the accounts, then sends random deposits, withdrawals (some overdraw: rejected) and
// transfers (some to an account that does not exist: refunded) from `clients` threads.
SimulationReport simulate(even::client::Client& client, const SimulationOptions& options);

}  // namespace bank
