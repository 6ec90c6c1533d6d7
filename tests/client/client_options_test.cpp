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
      "curve-secret-key = keys/app.key_secret\n"
      "writer-public-key = keys/writer.key\n"
      "reader-public-key = rq+]Fvg/Xa[LO{i5j-aEr=mY<{:^4&hzE=k$9(Oj\n"
      "dispatcher-public-key = keys/dispatcher.key\n"
      "allow-keys-dir = keys/allowed\n"
      "\n"
      "[writer]\n"
      "writer-endpoint = tcp://ignored:1\n"
      "max-batch-events = 5000\n"));
  EXPECT_EQ(o.writer_endpoint, "tcp://10.0.0.1:5550");
  EXPECT_EQ(o.reader_endpoint, "tcp://10.0.0.2:5553");
  EXPECT_EQ(o.feed_endpoint, "tcp://10.0.0.3:5552");
  EXPECT_EQ(o.timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(o.security.secret_key, "keys/app.key_secret");
  EXPECT_EQ(o.security.writer_public_key, "keys/writer.key");
  EXPECT_EQ(o.security.reader_public_key, "rq+]Fvg/Xa[LO{i5j-aEr=mY<{:^4&hzE=k$9(Oj");
  EXPECT_EQ(o.security.dispatcher_public_key, "keys/dispatcher.key");
  EXPECT_FALSE(o.security.insecure);
}

TEST_F(ClientOptionsTest, ATcpEndpointWithoutKeysNeedsInsecure) {
  try {
    ClientOptions::from_file(write("writer-endpoint = tcp://10.0.0.1:5550\n"));
    ADD_FAILURE() << "a tcp:// endpoint without keys was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("curve-secret-key"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("insecure = true"), std::string::npos) << e.what();
  }
  const auto plain = ClientOptions::from_file(write("writer-endpoint = tcp://10.0.0.1:5550\ninsecure = true\n"));
  EXPECT_TRUE(plain.security.insecure);
  // Only ipc:// and inproc:// endpoints: no keys needed.
  EXPECT_NO_THROW(ClientOptions::from_file(write("writer-endpoint = ipc:///tmp/w\nreader-endpoint = ipc:///tmp/r\n"
                                                 "dispatcher-pub-endpoint = ipc:///tmp/p\n")));
}

TEST_F(ClientOptionsTest, KeysNotInTheFileKeepTheirDefaults) {
  const ClientOptions defaults;
  const auto o = ClientOptions::from_file(write("reader-endpoint = tcp://r:1\ninsecure = true\n"));
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
      ClientOptions::from_file(write("# first line\n" + text + "insecure = true\n"));
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
