// `cmake --install` into a temporary prefix, then an application (examples/quickstart) configured
// and built against that prefix alone with find_package(Even), then run against a real even-server:
// the installed headers, library and CMake package are complete and work. Needs the whole build
// (every installed program); ops/even test builds it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "support/process.h"
#include "support/test_env.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

class InstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/even-install-test-" + std::to_string(::getpid());
    run_tool({"rm", "-rf", dir_});
  }
  void TearDown() override {
    if (!HasFailure()) run_tool({"rm", "-rf", dir_});  // kept for a look when the test failed
  }
  std::string dir_;
};

TEST_F(InstallTest, AnApplicationBuildsAgainstTheInstalledPackageAndRuns) {
  const std::string prefix = dir_ + "/prefix";
  std::string out;
  ASSERT_EQ(run_tool({EVEN_CMAKE_COMMAND, "--install", EVEN_BIN_DIR, "--prefix", prefix}, &out), 0) << out;

  for (const char* f : {"bin/even-writer", "bin/even-reader", "bin/even-dispatcher", "bin/even-projector",
                        "bin/even-server", "bin/even-admin", "bin/evenctl", "bin/even-bench", "include/even/client/client.h",
                        "lib/systemd/system/even-writer.service", "lib/systemd/system/even-projector@.service",
                        "lib/systemd/system/even-admin.service", "lib/systemd/system/even.target", "etc/even/even.conf",
                        "share/doc/even/examples/supervisor/even.conf", "share/doc/even/operators.md"})
    EXPECT_TRUE(exists(prefix + "/" + f)) << f;
  // With a prefix other than /usr nothing is written outside it (the manifest lists every file).
  std::ifstream manifest(std::string(EVEN_BIN_DIR) + "/install_manifest.txt");
  std::string line;
  int files = 0;
  while (std::getline(manifest, line)) {
    ++files;
    EXPECT_EQ(line.rfind(prefix + "/", 0), 0u) << line;
  }
  EXPECT_GT(files, 30);

  // The application knows only the prefix.
  const std::string app = dir_ + "/app";
  std::vector<std::string> configure = {EVEN_CMAKE_COMMAND, "-S", std::string(EVEN_SOURCE_DIR) + "/examples/quickstart",
                                        "-B", app, "-DCMAKE_PREFIX_PATH=" + prefix, "-DCMAKE_BUILD_TYPE=Release"};
  if (std::string(EVEN_CXX_LAUNCHER).size()) configure.push_back("-DCMAKE_CXX_COMPILER_LAUNCHER=" EVEN_CXX_LAUNCHER);
  if (std::string(EVEN_SANITIZE_FLAGS).size()) {  // the installed library of a sanitizer build needs them too
    configure.push_back("-DCMAKE_CXX_FLAGS=" EVEN_SANITIZE_FLAGS);
    configure.push_back("-DCMAKE_EXE_LINKER_FLAGS=" EVEN_SANITIZE_FLAGS);
  }
  ASSERT_EQ(run_tool(configure, &out), 0) << out;
  EXPECT_NE(out.find("Build files have been written"), std::string::npos) << out;
  ASSERT_EQ(run_tool({EVEN_CMAKE_COMMAND, "--build", app, "-j2"}, &out), 0) << out;
  // It compiled against the installed headers, not the source tree's.
  std::string deps;
  run_tool({"grep", "-rl", std::string(EVEN_SOURCE_DIR) + "/client/include", app + "/CMakeFiles"}, &deps);
  EXPECT_EQ(deps, "") << "the build used the source tree's headers:\n" << deps;

  // And it runs against even-server (the installed one): appends, reads back and follows the feed,
  // with the endpoints from a config file read by ClientOptions::from_file.
  TestStore store;
  const auto writer = loopback_endpoint(), reader = loopback_endpoint(), feed = loopback_endpoint();
  std::vector<std::string> argv = {prefix + "/bin/even-server", "--writer-endpoint", writer, "--reader-endpoint",
                                   reader, "--dispatcher-pub-endpoint", feed};
  for (auto& f : db_flags(store.db())) argv.push_back(f);
  Process server(argv, dir_ + "/even-server.log");
  ASSERT_TRUE(server.wait_for_log("serving appends", 20s)) << server.log();
  const std::string conf = dir_ + "/client.conf";
  std::ofstream(conf) << "# the endpoint keys of even.conf\nwriter-endpoint = " << writer << "\nreader-endpoint = " << reader
                      << "\ndispatcher-pub-endpoint = " << feed << "\ninsecure = true\n";
  ASSERT_EQ(run_tool({app + "/quickstart", "--config", conf, "quickstart-1"}, &out), 0) << out << server.log();
  EXPECT_NE(out.find("appended to quickstart-1: version 2"), std::string::npos) << out;
  EXPECT_NE(out.find("read quickstart-1/2 Deposited"), std::string::npos) << out;
  EXPECT_NE(out.find(" quickstart-1 Deposited"), std::string::npos) << "the subscription delivered it\n" << out;
  EXPECT_EQ(store.scalar("SELECT COUNT(*) FROM events WHERE stream = 'quickstart-1'"), 2);
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(20s), 0) << server.log();
}

}  // namespace
}  // namespace even::test
