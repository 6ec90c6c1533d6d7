// ClientOptions::from_file: the client's keys of an even.conf (the file the services read), read
// without Boost; the services' keys and sections are ignored, bad values are errors naming the line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <string>

#include "even/client/client.h"

namespace even::client {
namespace {

class ClientOptionsTest : public ::testing::Test {
 protected:
  void TearDown() override { ::unlink(path_.c_str()); }
  const std::string& write(const std::string& text) {
    std::ofstream(path_) << text;
    return path_;
  }
  std::string path_ = "/tmp/even-client-options-test-" + std::to_string(::getpid()) + ".conf";
};

TEST_F(ClientOptionsTest, ReadsTheEndpointsAndTheTimeoutOfAServicesFile) {
  const auto o = ClientOptions::from_file(write(
      "# even.conf, as ops/etc/even.conf writes it\n"
      "db-url = tcp://127.0.0.1:3306\n"
      "writer-endpoint = tcp://10.0.0.1:5550\n"
      "  reader-endpoint=tcp://10.0.0.2:5553   # a comment after a value\n"
      "dispatcher-pub-endpoint = tcp://10.0.0.3:5552\n"
      "dispatcher-pull-endpoint = tcp://10.0.0.3:5551\n"
      "timeout-ms = 2500\n"
      "\n"
      "[writer]\n"
      "writer-endpoint = tcp://ignored:1\n"
      "max-batch-events = 5000\n"));
  EXPECT_EQ(o.writer_endpoint, "tcp://10.0.0.1:5550");
  EXPECT_EQ(o.reader_endpoint, "tcp://10.0.0.2:5553");
  EXPECT_EQ(o.feed_endpoint, "tcp://10.0.0.3:5552");
  EXPECT_EQ(o.timeout, std::chrono::milliseconds(2500));
}

TEST_F(ClientOptionsTest, KeysNotInTheFileKeepTheirDefaults) {
  const ClientOptions defaults;
  const auto o = ClientOptions::from_file(write("reader-endpoint = tcp://r:1\n"));
  EXPECT_EQ(o.reader_endpoint, "tcp://r:1");
  EXPECT_EQ(o.writer_endpoint, defaults.writer_endpoint);
  EXPECT_EQ(o.feed_endpoint, defaults.feed_endpoint);
  EXPECT_EQ(o.timeout, defaults.timeout);
  EXPECT_EQ(o.resend_after, defaults.resend_after);
}

TEST_F(ClientOptionsTest, ABadLineOrValueIsAnErrorNamingTheFileAndLine) {
  for (const std::string text : {"timeout-ms = soon\n", "timeout-ms = 0\n", "timeout-ms = 10ms\n",
                                 "writer-endpoint tcp://x:1\n", "[writer\n"}) {
    try {
      ClientOptions::from_file(write("# first line\n" + text));
      ADD_FAILURE() << "accepted: " << text;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(path_ + ":2"), std::string::npos) << e.what();
    }
  }
}

TEST_F(ClientOptionsTest, AMissingFileIsAnError) {
  EXPECT_THROW(ClientOptions::from_file("/nonexistent/even.conf"), std::runtime_error);
}

}  // namespace
}  // namespace even::client
