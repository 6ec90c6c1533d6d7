// What Client::append checks before it sends anything: a payload declared JSON must parse (an
// empty one is allowed). No writer listens here: a refused append throws InvalidRequest at once,
// an accepted one goes to the writer's channel and ends in Timeout.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "even/client/client.h"
#include "support/test_env.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;

client::NewEvent event(const std::string& payload, client::PayloadFormat format = client::PayloadFormat::json) {
  client::NewEvent e;
  e.type = "Tested";
  e.payload = payload;
  e.format = format;
  return e;
}

TEST(AppendChecks, APayloadDeclaredJsonMustParse) {
  client::ClientOptions o;
  o.writer_endpoint = loopback_endpoint();  // nothing listens
  o.timeout = 300ms;
  client::Client c(o);
  for (const std::string bad : {"{not json", "{\"a\":1", "[1,2,]", "{\"a\":1} trailing"}) {
    SCOPED_TRACE(bad);
    try {
      c.append("s-1", ExpectedVersion::any(), {event("{}"), event(bad)});
      ADD_FAILURE() << "accepted";
    } catch (const client::InvalidRequest& e) {
      EXPECT_EQ(e.code(), client::ErrorCode::invalid_event);
      EXPECT_NE(std::string(e.what()).find("event 1 (Tested) is declared JSON but its payload is not JSON"),
                std::string::npos)
          << e.what();
    }
  }
  // Deeply nested JSON is checked without recursion.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  // Valid JSON, binary payloads and empty payloads pass the check (and time out: nobody answers).
  for (const auto& good : {event("{\"a\":[1,2.5,\"x\",null,true]}"), event("\"just a string\""), event("42"),
                           event(""), event(deep), event("{not json", client::PayloadFormat::binary)}) {
    EXPECT_THROW(c.append("s-1", ExpectedVersion::any(), {good}), client::Timeout) << good.payload.substr(0, 40);
  }
  EXPECT_THROW(c.append_async("s-1", ExpectedVersion::any(), {event("{")}, [](auto*, auto) {}),
               client::InvalidRequest);
}

}  // namespace
}  // namespace even::test
