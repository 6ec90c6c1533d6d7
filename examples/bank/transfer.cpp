#include "bank/transfer.h"

#include <stdexcept>

namespace bank {

using even::client::CommandContext;
using even::client::RecordedEvent;

namespace {
template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : "; ") + s;
  return out;
}
}  // namespace

std::string_view to_string(TransferStatus s) {
  switch (s) {
    case TransferStatus::none: return "none";
    case TransferStatus::started: return "started";
    case TransferStatus::debited: return "debited";
    case TransferStatus::completed: return "completed";
    case TransferStatus::failed: return "failed";
  }
  return "?";
}

void Transfer::apply(State& s, const Event& e) {
  std::visit(overloaded{
                 [&](const TransferStarted& t) {
                   s.status = TransferStatus::started;
                   s.from = t.from;
                   s.to = t.to;
                   s.amount = t.amount;
                 },
                 [&](const TransferDebited&) { s.status = TransferStatus::debited; },
                 [&](const TransferCompleted&) { s.status = TransferStatus::completed; },
                 [&](const TransferFailed& f) {
                   s.status = TransferStatus::failed;
                   s.reason = f.reason;
                   s.refunded = f.refunded;
                 },
             },
             e);
}

even::client::Decision<TransferEvent> Transfer::decide(const State& s, const Command& c) {
  using D = even::client::Decision<TransferEvent>;
  return std::visit(
      overloaded{
          [&](const StartTransfer& t) -> D {
            std::vector<std::string> reasons;
            if (s.status != TransferStatus::none) reasons.push_back("the transfer exists already");
            if (t.amount <= 0) reasons.push_back("the amount must be positive");
            if (t.from == t.to) reasons.push_back("source and target are the same account");
            if (t.from.empty() || t.to.empty()) reasons.push_back("source and target are needed");
            if (!reasons.empty()) return D::reject(std::move(reasons));
            return D::accept(TransferStarted{t.from, t.to, t.amount});
          },
          [&](const RecordDebit&) -> D {
            if (s.status != TransferStatus::started) return D::reject("the transfer is not waiting for its debit");
            return D::accept(TransferDebited{s.amount});
          },
          [&](const CompleteTransfer&) -> D {
            if (s.status != TransferStatus::debited) return D::reject("the transfer is not waiting for its credit");
            return D::accept(TransferCompleted{s.amount});
          },
          [&](const FailTransfer& f) -> D {
            if (s.status != TransferStatus::started && s.status != TransferStatus::debited)
              return D::reject("the transfer has ended");
            if (s.status == TransferStatus::debited && !f.refunded)
              return D::reject("a debited transfer fails only after its refund");
            return D::accept(TransferFailed{f.reason, f.refunded});
          },
      },
      c);
}

const even::client::EventTypes<TransferEvent>& transfer_event_types() {
  static const even::client::EventTypes<TransferEvent> types;
  return types;
}

TransferOutcome TransferProcess::transfer(const std::string& id, const StartTransfer& start,
                                          const CommandContext& ctx) {
  auto r = transfers_.handle(id, start, ctx);
  if (!r.accepted) {
    // Starting the same transfer twice is no error: resume it (it may have been cut short).
    auto existing = transfers_.load(id);
    if (existing.state.status == TransferStatus::none || existing.state.from != start.from ||
        existing.state.to != start.to || existing.state.amount != start.amount)
      return TransferOutcome{TransferStatus::none, r.reasons, false};
  }
  return resume(id);
}

TransferOutcome TransferProcess::resume(const std::string& id) {
  const std::string stream = even::client::AggregateStore<Transfer>::stream_of(id);
  for (int step = 0; step < 10; ++step) {
    // The transfer's last event: what the process reacts to next.
    auto last = client_.read_stream(stream, even::client::kStreamEnd, even::client::Direction::backward, 1).to_vector();
    if (last.empty()) return {};
    const RecordedEvent& ev = last.front();
    auto event = transfer_event_types().decode(ev);
    if (auto* f = std::get_if<TransferFailed>(&event)) return {TransferStatus::failed, {f->reason}, f->refunded};
    if (std::holds_alternative<TransferCompleted>(event)) return {TransferStatus::completed, {}, false};

    if (auto* s = std::get_if<TransferStarted>(&event)) {
      auto debit = accounts_.handle(s->from, Withdraw{s->amount, id}, CommandContext::caused_by(ev, "debit"));
      if (debit.accepted)
        transfers_.handle(id, RecordDebit{}, CommandContext::caused_by(ev, "debited"));
      else
        transfers_.handle(id, FailTransfer{"debit rejected: " + join(debit.reasons), false},
                          CommandContext::caused_by(ev, "fail"));
    } else if (std::holds_alternative<TransferDebited>(event)) {
      auto state = transfers_.load(id).state;
      auto credit = accounts_.handle(state.to, Deposit{state.amount, id}, CommandContext::caused_by(ev, "credit"));
      if (credit.accepted) {
        transfers_.handle(id, CompleteTransfer{}, CommandContext::caused_by(ev, "complete"));
      } else {
        // Compensation: give the amount back to the source account.
        auto refund = accounts_.handle(state.from, Deposit{state.amount, id + ":refund"},
                                       CommandContext::caused_by(ev, "refund"));
        if (!refund.accepted) throw std::runtime_error("refund of transfer " + id + " rejected: " + join(refund.reasons));
        transfers_.handle(id, FailTransfer{"credit rejected: " + join(credit.reasons), true},
                          CommandContext::caused_by(ev, "fail"));
      }
    }
  }
  throw std::runtime_error("transfer " + id + " did not reach an end");
}

}  // namespace bank
