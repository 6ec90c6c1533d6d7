#include "bank/account.h"

namespace bank {

namespace {
template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};
}  // namespace

void Account::apply(State& s, const Event& e) {
  std::visit(overloaded{
                 [&](const AccountOpened& o) {
                   s.open = true;
                   s.owner = o.owner;
                   s.currency = o.currency;
                 },
                 [&](const Deposited& d) { s.balance += d.amount; },
                 [&](const Withdrawn& w) { s.balance -= w.amount; },
             },
             e);
}

even::client::Decision<AccountEvent> Account::decide(const State& s, const Command& c) {
  using D = even::client::Decision<AccountEvent>;
  return std::visit(
      overloaded{
          [&](const OpenAccount& o) -> D {
            std::vector<std::string> reasons;
            if (s.open) reasons.push_back("the account is already open");
            if (o.owner.empty()) reasons.push_back("an account needs an owner");
            if (!reasons.empty()) return D::reject(std::move(reasons));
            return D::accept(AccountOpened{o.owner, "EUR"});
          },
          [&](const Deposit& d) -> D {
            std::vector<std::string> reasons;
            if (!s.open) reasons.push_back("no such account");
            if (d.amount <= 0) reasons.push_back("the amount must be positive");
            if (!reasons.empty()) return D::reject(std::move(reasons));
            return D::accept(Deposited{d.amount, d.reference});
          },
          [&](const Withdraw& w) -> D {
            std::vector<std::string> reasons;
            if (!s.open) reasons.push_back("no such account");
            if (w.amount <= 0) reasons.push_back("the amount must be positive");
            if (s.open && w.amount > s.balance)
              reasons.push_back("insufficient funds: balance " + std::to_string(s.balance) + ", requested " +
                                std::to_string(w.amount));
            if (!reasons.empty()) return D::reject(std::move(reasons));
            return D::accept(Withdrawn{w.amount, w.reference});
          },
      },
      c);
}

const even::client::EventTypes<AccountEvent>& account_event_types() {
  static const auto types = [] {
    even::client::EventTypes<AccountEvent> t;
    t.upcast("AccountOpened", 1, [](even::client::Json& p) {
      p["owner"] = p.value("name", std::string());
      p.erase("name");
      p["currency"] = "EUR";
    });
    return t;
  }();
  return types;
}

}  // namespace bank
