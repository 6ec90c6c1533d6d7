// bank: the command-line front end of the bank example (examples/bank/README.md).
//
//   bank [--config var/etc/even.conf] open ACCOUNT OWNER
//   bank deposit ACCOUNT AMOUNT | withdraw ACCOUNT AMOUNT
//   bank transfer FROM TO AMOUNT [--transfer-id ID]
//   bank balance [ACCOUNT]          (brings the read model up to date first)
//   bank history ACCOUNT            (the account's events with correlation / causation ids)
//   bank simulate N [--accounts K] [--clients C]
//   bank project [--rebuild]        (keeps the read model up to date until SIGTERM)
#include <csignal>
#include <iomanip>
#include <iostream>
#include <thread>

#include "bank/bank.h"
#include "bank/read_model.h"
#include "even/common/config.h"
#include "even/common/net.h"

namespace {

using even::client::CommandResult;

std::int64_t amount_arg(const std::string& s) {
  std::size_t used = 0;
  long long v = std::stoll(s, &used);
  if (used != s.size()) throw even::config::po::error("not an amount: " + s);
  return v;
}

int print(const CommandResult& r, const std::string& what) {
  if (r.accepted) {
    std::cout << "accepted: " << what << " (version " << r.version.value();
    if (r.events) std::cout << ", global position " << r.last_global_seq.value();
    if (r.already_handled) std::cout << ", already handled earlier";
    if (r.attempts > 1) std::cout << ", " << r.attempts << " attempts";
    std::cout << ")\n";
    return 0;
  }
  std::cout << "rejected: " << what << "\n";
  for (const auto& reason : r.reasons) std::cout << "  - " << reason << "\n";
  return 1;
}

void print_accounts(bank::BankReadModel& model, std::size_t limit) {
  auto rows = model.accounts(limit);
  std::cout << "  " << std::left << std::setw(22) << "account" << std::setw(24) << "owner" << std::right
            << std::setw(10) << "balance" << std::setw(9) << "version" << std::setw(12) << "position" << "\n";
  for (const auto& a : rows)
    std::cout << "  " << std::left << std::setw(22) << a.id << std::setw(24) << a.owner << std::right << std::setw(10)
              << a.balance << std::setw(9) << a.version << std::setw(12) << a.last_global_seq << "\n";
}

int bank_main(int argc, char** argv) {
  using namespace even;
  namespace po = config::po;
  config::DbOptions db;
  client::ClientOptions co;
  std::string query_db_name, transfer_id, command_id, projections_file;
  bool rebuild = false;
  std::vector<std::string> args;
  int accounts = 20, clients = 16, timeout_ms = 15000;
  std::int64_t snapshot_every = 50;
  std::size_t show = 10;

  po::options_description desc("bank options");
  desc.add_options()
      ("writer-endpoint", po::value(&co.writer_endpoint)->default_value(co.writer_endpoint), "even-writer")
      ("reader-endpoint", po::value(&co.reader_endpoint)->default_value(co.reader_endpoint), "even-reader")
      ("dispatcher-pub-endpoint", po::value(&co.feed_endpoint)->default_value(co.feed_endpoint),
       "even-dispatcher's feed (bank project, simulate)")
      ("query-db-name", po::value(&query_db_name)->default_value(""),
       "database of the read model on the same server (default: <db-name>_bank)")
      ("timeout-ms", po::value(&timeout_ms)->default_value(timeout_ms), "per call")
      ("command-id", po::value(&command_id)->default_value(""),
       "the command's id (a UUID or any text): sending the same command again with it changes nothing")
      ("transfer-id", po::value(&transfer_id)->default_value(""), "transfer: its id (default: random)")
      ("accounts", po::value(&accounts)->default_value(accounts), "simulate: accounts")
      ("clients", po::value(&clients)->default_value(clients), "simulate: concurrent clients")
      ("snapshot-every", po::value(&snapshot_every)->default_value(snapshot_every), "account snapshots every N events (0: off)")
      ("show", po::value(&show)->default_value(show), "balance/simulate: accounts listed")
      ("projections", po::value(&projections_file)->default_value(""),
       "the SQL-config projection file (default: examples/bank/projections.json of the source tree)")
      ("rebuild", po::bool_switch(&rebuild), "project: rebuild the read model from the first event")
      ("args", po::value(&args)->multitoken(), "command and its arguments");
  config::add_db_options(desc, db);
  config::add_security_options(desc, co.security);
  po::positional_options_description pos;
  pos.add("args", -1);
  auto vm = config::parse(argc, argv, desc,
                          "bank: the Even example application.\n"
                          "Usage: bank [--config FILE] open ACCOUNT OWNER | deposit ACCOUNT AMOUNT | withdraw ACCOUNT "
                          "AMOUNT\n"
                          "          | transfer FROM TO AMOUNT | balance [ACCOUNT] | history ACCOUNT | simulate N | project",
                          &pos);
  if (!vm) return 0;
  if (args.empty()) throw po::error("no command; see --help");
  co.timeout = std::chrono::milliseconds(timeout_ms);
  config::check_client_keys(co.security, co.writer_endpoint, config::Server::writer, "writer-endpoint");
  config::check_client_keys(co.security, co.reader_endpoint, config::Server::reader, "reader-endpoint");
  config::check_client_keys(co.security, co.feed_endpoint, config::Server::dispatcher, "dispatcher-pub-endpoint");
  config::DbOptions query_db = db;
  query_db.name = query_db_name.empty() ? db.name + "_bank" : query_db_name;

  client::Client client(co);
  const std::string cmd = args[0];
  auto need = [&](std::size_t n) {
    if (args.size() != n + 1) throw po::error(cmd + " takes " + std::to_string(n) + " arguments");
  };
  client::CommandContext ctx = command_id.empty() ? client::CommandContext{} : client::CommandContext::with_id(command_id);
  bank::Bank bank(client, snapshot_every);

  if (cmd == "open") {
    need(2);
    return print(bank.open(args[1], args[2], ctx), "open " + args[1]);
  }
  if (cmd == "deposit") {
    need(2);
    return print(bank.deposit(args[1], amount_arg(args[2]), ctx), "deposit " + args[2] + " to " + args[1]);
  }
  if (cmd == "withdraw") {
    need(2);
    return print(bank.withdraw(args[1], amount_arg(args[2]), ctx), "withdraw " + args[2] + " from " + args[1]);
  }
  if (cmd == "transfer") {
    need(3);
    std::string id = transfer_id.empty() ? EventId::random().to_string().substr(0, 8) : transfer_id;
    auto out = bank.transfer(id, args[1], args[2], amount_arg(args[3]), ctx);
    std::cout << "transfer " << id << ": " << bank::to_string(out.status) << (out.refunded ? " (refunded)" : "") << "\n";
    for (const auto& r : out.reasons) std::cout << "  - " << r << "\n";
    return out.status == bank::TransferStatus::completed ? 0 : 1;
  }
  if (cmd == "balance") {
    if (args.size() > 2) throw po::error("balance takes at most one argument");
    auto at = bank::BankReadModel::catch_up(client, query_db);
    bank::BankReadModel model(query_db);
    if (args.size() == 2) {
      auto a = model.account(args[1]);
      if (!a) {
        std::cout << "no account " << args[1] << " in the read model (position " << at.value() << ")\n";
        return 1;
      }
      std::cout << a->id << " (" << a->owner << "): balance " << a->balance << ", version " << a->version
                << ", read model at position " << at.value() << "\n";
      if (auto act = model.activity(args[1]))
        std::cout << "  " << act->deposits << " deposits (" << act->deposited << "), " << act->withdrawals
                  << " withdrawals (" << act->withdrawn << ")  [SQL-config projection bank_activity]\n";
      return 0;
    }
    std::cout << "read model " << query_db.name << " at position " << at.value() << "\n";
    print_accounts(model, show);
    return 0;
  }
  if (cmd == "history") {
    need(1);
    const auto stream = client::AggregateStore<bank::Account>::stream_of(args[1]);
    for (const auto& e : client.read_stream(stream, StreamSeq(1))) {
      auto md = client::EventMetadata::parse(e.metadata);
      std::cout << e.stream_seq.value() << "  @" << e.global_seq.value() << "  " << e.type << " " << e.payload
                << "  correlation " << md.correlation_id << "  causation " << md.causation_id << "\n";
    }
    return 0;
  }
  if (cmd == "project") {
    need(0);
    (void)net::shutdown_fd();
    bank::BankProjector live(client, query_db, rebuild, projections_file);
    std::cerr << "bank project: keeping " << query_db.name << " up to date (SIGTERM stops)\n";
    while (!net::shutdown_requested()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      live.check();
    }
    return 0;
  }
  if (cmd == "simulate") {
    need(1);
    bank::SimulationOptions so;
    so.commands = static_cast<std::size_t>(amount_arg(args[1]));
    so.accounts = accounts;
    so.clients = clients;
    (void)net::shutdown_fd();  // SIGINT/SIGTERM handlers: stop cleanly
    const GlobalSeq head_before = client.head();
    bank::BankProjector live(client, query_db, false, projections_file);
    std::cout << "bank simulate: " << so.commands << " operations (deposits, withdrawals, transfers) on "
              << so.accounts << " new accounts from " << so.clients << " concurrent clients\n" << std::flush;
    auto r = bank::simulate(client, so);
    const GlobalSeq head_after = client.head();
    const double events = static_cast<double>(head_after.value() - head_before.value());
    std::cout << std::fixed << std::setprecision(1);
    std::cout << "  operations: " << r.commands << " in " << r.seconds << " s = " << r.commands / r.seconds
              << " ops/s (p50 " << r.p50_ms << " ms, p99 " << r.p99_ms << " ms)\n";
    std::cout << "  accepted " << r.accepted << ", rejected " << r.rejected
              << " (overdrafts and transfers to a closed account)\n";
    std::cout << "  transfers: " << r.transfers_completed << " completed, " << r.transfers_failed << " failed ("
              << r.transfers_refunded << " refunded by compensation)\n";
    std::cout << "  events stored: " << static_cast<std::uint64_t>(events) << " = " << events / r.seconds
              << " events/s; global positions " << head_before.value() + 1 << ".." << head_after.value() << "\n";
    const auto t0 = std::chrono::steady_clock::now();
    if (!live.wait_for(head_after, std::chrono::seconds(60))) {
      std::cout << "  the read model did not catch up within 60 s (at " << live.position().value() << ")\n";
      return 1;
    }
    const double lag_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    bank::BankReadModel model(query_db);
    std::cout << "read model " << query_db.name << " (projections bank (C++) and bank_activity (SQL-config) at position "
              << live.position().value() << ", caught up " << lag_ms << " ms after the last command):\n";
    std::int64_t expected = 0, got = 0;
    bool all_match = true, activity_match = true;
    for (const auto& [id, balance] : r.expected_balances) {
      expected += balance;
      auto row = model.account(id);
      got += row ? row->balance : 0;
      if (!row || row->balance != balance) all_match = false;
      auto act = model.activity(id);
      if (!act || act->deposited - act->withdrawn != balance) activity_match = false;
    }
    auto rows = model.accounts();
    std::size_t listed = 0;
    std::cout << "  " << std::left << std::setw(22) << "account" << std::right << std::setw(10) << "balance"
              << std::setw(9) << "version" << std::setw(12) << "position" << std::setw(10) << "deposits"
              << std::setw(13) << "withdrawals" << "\n";
    for (const auto& a : rows) {
      if (a.id.rfind(r.prefix + "-", 0) != 0) continue;
      if (listed++ >= show) break;
      auto act = model.activity(a.id).value_or(bank::ActivityRow{});
      std::cout << "  " << std::left << std::setw(22) << a.id << std::right << std::setw(10) << a.balance
                << std::setw(9) << a.version << std::setw(12) << a.last_global_seq << std::setw(10) << act.deposits
                << std::setw(13) << act.withdrawals << "\n";
    }
    std::cout << "  total of the " << r.expected_balances.size() << " accounts: " << got
              << (all_match ? " = " : " != ") << expected << " computed from the accepted commands"
              << (all_match ? "  (every balance matches)" : "  MISMATCH") << "\n";
    std::cout << "  bank_activity (SQL-config projection): deposited - withdrawn "
              << (activity_match ? "equals" : "DOES NOT EQUAL") << " the balance of every account\n";
    return all_match && activity_match ? 0 : 1;
  }
  throw po::error("unknown command '" + cmd + "'");
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("bank", bank_main, argc, argv); }
