// even-bench commands: command handling through AggregateStore (decide against the state, append
// with the expected version) by N concurrent clients on distinct aggregates, against serial
// appends (exact expected versions, one event each, N clients on their own streams) through the
// same even-writer in the same run: ratio_to_append. Measured twice: with the store's state cache
// (the default: a command is one append round trip) and without it (each command also reads the
// aggregate's stream through even-reader first).
#include <atomic>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <thread>

#include "bench/bench.h"
#include "even/client/aggregate.h"
#include "even/client/client.h"
#include "even/common/net.h"

namespace even::bench {

namespace {

// A small aggregate: a wallet that may not go below zero.
struct Credited {
  static constexpr std::string_view kType = "WalletCredited";
  std::int64_t amount = 0;
  std::string note;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Credited, amount, note)
struct Debited {
  static constexpr std::string_view kType = "WalletDebited";
  std::int64_t amount = 0;
  std::string note;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Debited, amount, note)
struct WalletState {
  std::int64_t balance = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(WalletState, balance)
struct Credit {
  std::int64_t amount;
};
struct Debit {
  std::int64_t amount;
};
struct Wallet {
  static constexpr std::string_view kCategory = "wallet";
  using State = WalletState;
  using Event = std::variant<Credited, Debited>;
  using Command = std::variant<Credit, Debit>;
  static void apply(State& s, const Event& e) {
    if (auto* c = std::get_if<Credited>(&e)) s.balance += c->amount;
    if (auto* d = std::get_if<Debited>(&e)) s.balance -= d->amount;
  }
  static client::Decision<Event> decide(const State& s, const Command& c) {
    using D = client::Decision<Event>;
    if (auto* cr = std::get_if<Credit>(&c)) return D::accept(Credited{cr->amount, std::string(150, 'x')});
    const auto& d = std::get<Debit>(c);
    if (d.amount > s.balance) return D::reject("insufficient funds");
    return D::accept(Debited{d.amount, std::string(150, 'x')});
  }
};

struct Run {
  std::uint64_t ops = 0, rejected = 0, errors = 0;
  double seconds = 0;
  Percentiles latency;
  double rate() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
};

std::vector<std::unique_ptr<client::Client>> client_pool(const client::ClientOptions& co, int clients) {
  // One Client (DEALERs + I/O threads) per 8 application threads, as an application server would.
  std::vector<std::unique_ptr<client::Client>> pool;
  for (int i = 0; i < (clients + 7) / 8; ++i) pool.push_back(std::make_unique<client::Client>(co));
  pool.front()->ping_writer(std::chrono::seconds(30));
  return pool;
}

// Runs `op(client index, client)` in a closed loop on `clients` threads for `seconds`; op returns
// false for a rejection and throws for an error.
template <typename Op>
Run closed_loop(const char* label, int clients, double seconds, Op op) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> ops{0}, rejected{0}, errors{0};
  std::mutex mu;
  std::vector<double> latencies;
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::vector<double> mine;
      mine.reserve(100000);
      while (!stop.load(std::memory_order_relaxed)) {
        auto t0 = Clock::now();
        try {
          if (!op(c)) rejected.fetch_add(1, std::memory_order_relaxed);
          mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
          ops.fetch_add(1, std::memory_order_relaxed);
        } catch (const std::exception& e) {
          if (errors.fetch_add(1) < 5) std::cerr << "[bench] " << label << " failed: " << e.what() << "\n";
        }
      }
      std::lock_guard lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  std::this_thread::sleep_until(start + std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  Run r;
  r.seconds = seconds_since(start);
  r.ops = ops.load();
  r.rejected = rejected.load();
  r.errors = errors.load();
  r.latency = percentiles(std::move(latencies));
  std::cerr << "[bench] " << label << ": " << r.ops << " in " << r.seconds << " s = " << r.rate() << "/s, p99 "
            << r.latency.p99 << " ms\n";
  return r;
}

// The baseline: serial appends, one event (of about the same size as a command's) each.
Run serial_appends(const client::ClientOptions& co, int clients, double seconds) {
  auto pool = client_pool(co, clients);
  std::vector<std::int64_t> versions(static_cast<std::size_t>(clients), 0);
  const std::string payload = "{\"amount\":17,\"note\":\"" + std::string(150, 'x') + "\"}";
  return closed_loop("serial appends", clients, seconds, [&](int c) {
    client::NewEvent e;
    e.type = "WalletCredited";
    e.payload = payload;
    auto& v = versions[static_cast<std::size_t>(c)];
    auto r = pool[static_cast<std::size_t>(c / 8)]->append(
        "serial-" + std::to_string(c), v == 0 ? ExpectedVersion::no_stream() : ExpectedVersion::exact(v), {e});
    v = r.last_stream_seq.value();
    return true;
  });
}

// Commands on distinct aggregates: client c works on its own wallets "c<c>-<k>", k = 0..9 in turn,
// crediting three times for each debit (never rejected: every command appends one event).
Run commands(const client::ClientOptions& co, int clients, double seconds, std::size_t cache, const std::string& run) {
  auto pool = client_pool(co, clients);
  client::EventTypes<Wallet::Event> types;
  client::AggregateOptions ao;
  ao.cache_size = cache;
  std::vector<std::unique_ptr<client::AggregateStore<Wallet>>> stores;
  for (auto& c : pool) stores.push_back(std::make_unique<client::AggregateStore<Wallet>>(*c, types, ao));
  std::vector<std::uint64_t> counter(static_cast<std::size_t>(clients), 0);
  return closed_loop(cache ? "commands (cached state)" : "commands (state read per command)", clients, seconds,
                     [&](int c) {
                       auto n = counter[static_cast<std::size_t>(c)]++;
                       std::string id = run + "c" + std::to_string(c) + "-" + std::to_string(n % 10);
                       Wallet::Command cmd = n % 4 == 3 ? Wallet::Command(Debit{10}) : Wallet::Command(Credit{17});
                       return stores[static_cast<std::size_t>(c / 8)]->handle(id, cmd).accepted;
                     });
}

}  // namespace

int bench_commands(int argc, char** argv) {
  namespace po = config::po;
  config::DbOptions db;
  int clients = 32;
  double seconds = 10;
  po::options_description desc("even-bench commands options");
  desc.add_options()
      ("clients", po::value(&clients)->default_value(clients), "concurrent clients, each on its own aggregates / stream")
      ("seconds", po::value(&seconds)->default_value(seconds), "how long each of the three measurements runs");
  bool insecure = false;
  add_insecure_option(desc, insecure);
  config::add_db_options(desc, db);
  auto vm = config::parse(argc, argv, desc, "Usage: even-bench commands [--clients N] [--seconds S]");
  if (!vm) return 0;
  if (clients < 1 || seconds <= 0) throw po::error("--clients and --seconds must be positive");
  auto server = ensure_database(db, !(*vm)["db-url"].defaulted());

  ScratchStore scratch(server);
  BenchKeys keys(insecure);
  client::ClientOptions co;
  keys.apply(co);
  co.writer_endpoint = "tcp://127.0.0.1:" + std::to_string(net::free_loopback_port());
  co.reader_endpoint = "tcp://127.0.0.1:" + std::to_string(net::free_loopback_port());
  co.timeout = std::chrono::seconds(30);
  const char* level = std::getenv("EVEN_BENCH_LOG") ? std::getenv("EVEN_BENCH_LOG") : "warn";
  std::vector<std::string> dbf = config::db_flags(scratch.db());
  dbf.insert(dbf.end(), {"--log-level", level});
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.end(), dbf.begin(), dbf.end());
    a.insert(a.end(), keys.service_args().begin(), keys.service_args().end());
    return a;
  };
  ServiceProcess writer("writer", with({"--writer-endpoint", co.writer_endpoint}));
  ServiceProcess reader("reader", with({"--reader-endpoint", co.reader_endpoint}));
  std::cerr << "[bench] " << clients << " clients, " << seconds << " s per measurement; even-writer pid "
            << writer.pid() << ", even-reader pid " << reader.pid() << "\n";

  Run base = serial_appends(co, clients, seconds);
  Run cached = commands(co, clients, seconds, 100000, "a");
  Run uncached = commands(co, clients, seconds, 0, "b");
  auto ratio = [&](const Run& r) { return base.rate() > 0 ? r.rate() / base.rate() : 0; };
  std::cout << std::fixed << std::setprecision(3) << "{\"bench\":\"commands\",\"clients\":" << clients
            << ",\"seconds\":" << seconds << ",\"commands\":" << cached.ops << ",\"rejected\":" << cached.rejected
            << ",\"errors\":" << cached.errors + uncached.errors << ",\"commands_per_s\":" << cached.rate()
            << ",\"p50_ms\":" << cached.latency.p50 << ",\"p99_ms\":" << cached.latency.p99
            << ",\"serial_appends_per_s\":" << base.rate() << ",\"serial_p99_ms\":" << base.latency.p99
            << ",\"ratio_to_append\":" << ratio(cached) << ",\"uncached_commands_per_s\":" << uncached.rate()
            << ",\"uncached_p99_ms\":" << uncached.latency.p99 << ",\"uncached_ratio_to_append\":" << ratio(uncached)
            << "}" << std::endl;
  return 0;
}

}  // namespace even::bench
