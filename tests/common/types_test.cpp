#include "even/common/types.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>

namespace even {
namespace {

TEST(EventId, NewIdsAreDistinctTimeOrderedVersion7) {
  auto ms_of = [](const EventId& id) {
    std::uint64_t ms = 0;
    for (int i = 0; i < 6; ++i) ms = (ms << 8) | id.bytes()[i];
    return ms;
  };
  const auto now_ms = [] {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  };
  std::set<EventId> seen;
  std::uint64_t previous_ms = 0;
  const auto before = now_ms();
  for (int i = 0; i < 10000; ++i) {
    auto id = EventId::random();
    EXPECT_EQ(id.bytes()[6] >> 4, 7);
    EXPECT_EQ(id.bytes()[8] >> 6, 2);  // RFC 9562 variant
    EXPECT_GE(ms_of(id), previous_ms);  // the timestamp prefix never goes back within a thread
    previous_ms = ms_of(id);
    EXPECT_TRUE(seen.insert(id).second);
  }
  EXPECT_GE(previous_ms, before);
  EXPECT_LE(previous_ms, now_ms());
}

TEST(EventId, ParsesAndPrintsUuidForm) {
  auto id = EventId::parse("0123456789abcdef0123456789ABCDEF");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->to_string(), "01234567-89ab-cdef-0123-456789abcdef");
  auto again = EventId::parse(id->to_string());
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *id);
  EXPECT_FALSE(EventId::parse("0123"));
  EXPECT_FALSE(EventId::parse("0123456789abcdef0123456789abcdeX"));
  EXPECT_FALSE(EventId::parse("0123456789abcdef0123456789abcdef00"));
  EXPECT_FALSE(EventId::from_bytes("abc", 3));
}

TEST(ExpectedVersion, Parses) {
  EXPECT_EQ(ExpectedVersion::parse("any"), ExpectedVersion::any());
  EXPECT_EQ(ExpectedVersion::parse("no-stream"), ExpectedVersion::no_stream());
  // Versions start at 1; a stream that must not exist yet is "no-stream", not "0".
  EXPECT_FALSE(ExpectedVersion::parse("0"));
  EXPECT_EQ(ExpectedVersion::parse("1"), ExpectedVersion::exact(1));
  EXPECT_EQ(ExpectedVersion::parse("exists"), ExpectedVersion::exists());
  EXPECT_EQ(ExpectedVersion::parse("42"), ExpectedVersion::exact(42));
  EXPECT_FALSE(ExpectedVersion::parse("-1"));
  EXPECT_FALSE(ExpectedVersion::parse("12x"));
  EXPECT_FALSE(ExpectedVersion::parse(""));
}

TEST(StreamName, Validation) {
  EXPECT_EQ(validate_stream_name("account-42"), "");
  EXPECT_EQ(validate_stream_name("a.b:c@d+e=f_g"), "");
  EXPECT_NE(validate_stream_name(""), "");
  EXPECT_NE(validate_stream_name("$all"), "");
  EXPECT_NE(validate_stream_name("has space"), "");
  EXPECT_NE(validate_stream_name("quote'"), "");
  EXPECT_NE(validate_stream_name(std::string("nul\0x", 5)), "");
  EXPECT_NE(validate_stream_name(std::string(201, 'a')), "");
  EXPECT_EQ(validate_stream_name(std::string(200, 'a')), "");
}

TEST(EventType, Validation) {
  EXPECT_EQ(validate_event_type("AccountOpened"), "");
  EXPECT_EQ(validate_event_type("bank.Deposited:v2"), "");
  EXPECT_NE(validate_event_type("1Bad"), "");
  EXPECT_NE(validate_event_type(""), "");
  EXPECT_NE(validate_event_type("with space"), "");
}

TEST(Category, IsPrefixBeforeFirstDash) {
  EXPECT_EQ(category_of("account-42"), "account");
  EXPECT_EQ(category_of("account-42-x"), "account");
  EXPECT_EQ(category_of("plain"), "plain");
  EXPECT_EQ(category_of("-x"), "");
}

TEST(NamedType, PositionsDoNotMix) {
  GlobalSeq g(5);
  StreamSeq s(5);
  EXPECT_EQ(g.next().value(), 6u);
  EXPECT_LT(GlobalSeq(1), GlobalSeq(2));
  static_assert(!std::is_convertible_v<GlobalSeq, StreamSeq>);
  static_assert(!std::is_convertible_v<std::uint64_t, GlobalSeq>);
  EXPECT_EQ(s.value(), 5);
}

}  // namespace
}  // namespace even
