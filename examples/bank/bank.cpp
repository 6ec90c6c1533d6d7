#include "bank/bank.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

namespace bank {

using even::client::AggregateOptions;

namespace {
AggregateOptions account_options(std::int64_t snapshot_every) {
  AggregateOptions o;
  o.snapshot_every = snapshot_every;
  o.max_attempts = 100;  // many clients may work on the same account
  return o;
}
}  // namespace

Bank::Bank(even::client::Client& client, std::int64_t snapshot_every)
    : client_(client),
      accounts_(client, account_event_types(), account_options(snapshot_every)),
      transfers_(client, transfer_event_types(), account_options(0)),
      process_(client, accounts_, transfers_) {}

Bank::Result Bank::open(const std::string& account, const std::string& owner, const Context& ctx) {
  return accounts_.handle(account, OpenAccount{owner}, ctx);
}

Bank::Result Bank::deposit(const std::string& account, std::int64_t amount, const Context& ctx) {
  return accounts_.handle(account, Deposit{amount, ""}, ctx);
}

Bank::Result Bank::withdraw(const std::string& account, std::int64_t amount, const Context& ctx) {
  return accounts_.handle(account, Withdraw{amount, ""}, ctx);
}

TransferOutcome Bank::transfer(const std::string& id, const std::string& from, const std::string& to,
                               std::int64_t amount, const Context& ctx) {
  return process_.transfer(id, StartTransfer{from, to, amount}, ctx);
}

SimulationReport simulate(even::client::Client& client, const SimulationOptions& o) {
  SimulationReport report;
  std::random_device rd;
  const unsigned seed = o.seed ? o.seed : rd();
  report.prefix = o.prefix.empty() ? "sim" + std::to_string(seed % 1000000) : o.prefix;
  Bank bank(client);
  std::vector<std::string> ids;
  for (int i = 0; i < o.accounts; ++i) ids.push_back(report.prefix + "-" + std::to_string(i + 1));

  std::mutex mu;
  std::vector<double> latencies;
  std::uint64_t first = UINT64_MAX, last = 0;
  auto note = [&](const Bank::Result& r, double ms) {
    std::lock_guard lock(mu);
    latencies.push_back(ms);
    ++report.commands;
    if (r.accepted) {
      ++report.accepted;
      report.events += r.events;
      if (r.events) {
        first = std::min(first, r.first_global_seq.value());
        last = std::max(last, r.last_global_seq.value());
      }
    } else {
      ++report.rejected;
    }
  };
  using Clock = std::chrono::steady_clock;
  auto ms_since = [](Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
  };

  const auto start = Clock::now();
  // Open and fund the accounts.
  for (const auto& id : ids) {
    auto t0 = Clock::now();
    auto r = bank.open(id, "owner of " + id);
    note(r, ms_since(t0));
    t0 = Clock::now();
    r = bank.deposit(id, o.initial_deposit);
    note(r, ms_since(t0));
    if (r.accepted) report.expected_balances[id] += o.initial_deposit;
  }

  std::atomic<std::size_t> next{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < std::max(1, o.clients); ++c) {
    threads.emplace_back([&, c] {
      std::mt19937 rng(seed + static_cast<unsigned>(c) * 7919u);
      std::uniform_int_distribution<int> pick(0, o.accounts - 1), kind(0, 99);
      std::map<std::string, std::int64_t> delta;
      while (next.fetch_add(1) < o.commands) {
        const std::size_t ia = static_cast<std::size_t>(pick(rng));
        const std::string& a = ids[ia];
        const int k = kind(rng);
        auto t0 = Clock::now();
        if (k < 40) {
          std::int64_t amount = 1 + rng() % 100;
          auto r = bank.deposit(a, amount);
          note(r, ms_since(t0));
          if (r.accepted) delta[a] += amount;
        } else if (k < 80) {
          std::int64_t amount = 1 + rng() % 400;
          auto r = bank.withdraw(a, amount);
          note(r, ms_since(t0));
          if (r.accepted) delta[a] -= amount;
        } else {
          // Another account (a transfer to itself would be rejected before it starts).
          std::string b = ids.size() > 1 ? ids[(ia + 1 + static_cast<std::size_t>(pick(rng)) % (ids.size() - 1)) % ids.size()]
                                         : report.prefix + "-closed";
          if (k >= 95) b = report.prefix + "-closed";  // never opened: the credit fails, the debit is refunded
          std::int64_t amount = 1 + rng() % 300;
          std::string tid = report.prefix + "-t" + std::to_string(c) + "-" + std::to_string(rng());
          auto out = bank.transfer(tid, a, b, amount);
          Bank::Result as_result;
          as_result.accepted = out.status == TransferStatus::completed;
          note(as_result, ms_since(t0));
          std::lock_guard lock(mu);
          if (out.status == TransferStatus::completed) {
            ++report.transfers_completed;
            delta[a] -= amount;
            delta[b] += amount;
          } else if (out.status == TransferStatus::failed) {
            ++report.transfers_failed;
            if (out.refunded) ++report.transfers_refunded;
          }
        }
      }
      std::lock_guard lock(mu);
      for (auto& [id, d] : delta) report.expected_balances[id] += d;
    });
  }
  for (auto& t : threads) t.join();
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  if (!latencies.empty()) {
    report.p50_ms = latencies[latencies.size() / 2];
    report.p99_ms = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
  }
  report.first_global_seq = even::GlobalSeq(first == UINT64_MAX ? 0 : first);
  report.last_global_seq = even::GlobalSeq(last);
  return report;
}

}  // namespace bank
