// EventTypes, EventMetadata and derived ids, without services.
#include <gtest/gtest.h>

#include "bank/account.h"
#include "bank/transfer.h"
#include "even/client/event_types.h"

namespace {

using namespace even;
using namespace even::client;

RecordedEvent recorded(const NewEvent& n) {
  RecordedEvent e;
  e.id = n.id;
  e.type = n.type;
  e.payload = n.payload;
  e.metadata = n.metadata;
  e.stream = "account-1";
  e.stream_seq = StreamSeq(1);
  return e;
}

TEST(EventTypes, EncodeDecodeRoundTripWithMetadata) {
  const auto& types = bank::account_event_types();
  EventMetadata md;
  md.correlation_id = "corr-1";
  md.causation_id = "cmd-1";
  auto id = EventId::random();
  NewEvent n = types.encode(bank::Deposited{42, "t-1"}, md, id);
  EXPECT_EQ(n.id, id);
  EXPECT_EQ(n.type, "Deposited");
  EXPECT_EQ(Json::parse(n.payload), Json::parse(R"({"amount":42,"reference":"t-1"})"));
  auto parsed = EventMetadata::parse(n.metadata);
  EXPECT_EQ(parsed.correlation_id, "corr-1");
  EXPECT_EQ(parsed.causation_id, "cmd-1");
  EXPECT_EQ(parsed.schema_version, 1);

  auto back = types.decode(recorded(n));
  ASSERT_TRUE(std::holds_alternative<bank::Deposited>(back));
  EXPECT_EQ(std::get<bank::Deposited>(back).amount, 42);
  EXPECT_EQ(std::get<bank::Deposited>(back).reference, "t-1");
}

TEST(EventTypes, CurrentSchemaVersionIsWritten) {
  NewEvent n = bank::account_event_types().encode(bank::AccountOpened{"Ann", "EUR"}, {}, EventId::random());
  EXPECT_EQ(EventMetadata::parse(n.metadata).schema_version, 2);
}

TEST(EventTypes, UpcastsAnOldVersion) {
  RecordedEvent e;
  e.type = "AccountOpened";
  e.payload = R"({"name":"Old Ann"})";
  e.metadata = R"({"schema_version":1})";
  auto ev = bank::account_event_types().decode(e);
  ASSERT_TRUE(std::holds_alternative<bank::AccountOpened>(ev));
  EXPECT_EQ(std::get<bank::AccountOpened>(ev).owner, "Old Ann");
  EXPECT_EQ(std::get<bank::AccountOpened>(ev).currency, "EUR");
}

TEST(EventTypes, MissingMetadataMeansVersionOne) {
  RecordedEvent e;
  e.type = "AccountOpened";
  e.payload = R"({"name":"Bob"})";
  auto ev = bank::account_event_types().decode(e);  // written by another tool: no metadata at all
  EXPECT_EQ(std::get<bank::AccountOpened>(ev).owner, "Bob");
}

TEST(EventTypes, NewerVersionUnknownTypeBadPayloadAndMissingUpcasterFail) {
  RecordedEvent e;
  e.type = "AccountOpened";
  e.payload = R"({"owner":"X","currency":"EUR"})";
  e.metadata = R"({"schema_version":3})";
  EXPECT_THROW(bank::account_event_types().decode(e), EventDecodeError);
  e.type = "Nope";
  EXPECT_THROW(bank::account_event_types().decode(e), EventDecodeError);
  e.type = "Deposited";
  e.metadata = "";
  e.payload = "{not json";
  EXPECT_THROW(bank::account_event_types().decode(e), EventDecodeError);
  e.type = "TransferStarted";
  e.payload = R"({"from":"a","to":"b","amount":1})";
  e.metadata = R"({"schema_version":0})";  // no upcaster from 0
  EXPECT_THROW(bank::transfer_event_types().decode(e), EventDecodeError);
}

TEST(EventMetadata, LenientParseKeepsExtraFields) {
  EXPECT_EQ(EventMetadata::parse("garbage").schema_version, 1);
  auto md = EventMetadata::parse(R"({"correlation_id":"c","user":"ann","schema_version":2})");
  EXPECT_EQ(md.correlation_id, "c");
  EXPECT_EQ(md.schema_version, 2);
  EXPECT_EQ(md.extra["user"], "ann");
  EXPECT_EQ(Json::parse(md.to_json())["user"], "ann");
}

TEST(EventMetadata, CausedByCarriesTheCorrelation) {
  RecordedEvent cause;
  cause.id = EventId::random();
  cause.metadata = R"({"correlation_id":"conv-7","causation_id":"x"})";
  auto md = EventMetadata::caused_by(cause);
  EXPECT_EQ(md.correlation_id, "conv-7");
  EXPECT_EQ(md.causation_id, cause.id.to_string());
  cause.metadata = "";
  EXPECT_EQ(EventMetadata::caused_by(cause).correlation_id, cause.id.to_string());
}

TEST(DeriveId, StableAndDistinct) {
  auto base = EventId::random();
  EXPECT_EQ(derive_id(base, "0"), derive_id(base, "0"));
  EXPECT_NE(derive_id(base, "0"), derive_id(base, "1"));
  EXPECT_NE(derive_id(base, "0"), derive_id(EventId::random(), "0"));
  EXPECT_NE(derive_id(base, "0"), base);
  auto text = derive_id(base, "x").to_string();
  EXPECT_EQ(text[14], '8');  // UUID version 8
  auto a = CommandContext::with_id("order-17"), b = CommandContext::with_id("order-17");
  EXPECT_EQ(a.command_id, b.command_id);
  auto uuid = EventId::random();
  EXPECT_EQ(CommandContext::with_id(uuid.to_string()).command_id, uuid);
}

TEST(AccountDecide, RulesAndReasons) {
  bank::AccountState s;
  auto d = bank::Account::decide(s, bank::Withdraw{5, ""});
  ASSERT_TRUE(d.rejected());
  EXPECT_EQ(d.reasons.front(), "no such account");
  d = bank::Account::decide(s, bank::OpenAccount{""});
  EXPECT_EQ(d.reasons.size(), 1u);
  s.open = true;
  s.balance = 10;
  d = bank::Account::decide(s, bank::Withdraw{11, ""});
  ASSERT_TRUE(d.rejected());
  EXPECT_NE(d.reasons.front().find("insufficient funds"), std::string::npos);
  d = bank::Account::decide(s, bank::Withdraw{-1, ""});
  EXPECT_TRUE(d.rejected());
  d = bank::Account::decide(s, bank::Withdraw{10, ""});
  ASSERT_FALSE(d.rejected());
  bank::Account::apply(s, d.events.front());
  EXPECT_EQ(s.balance, 0);
}

}  // namespace
