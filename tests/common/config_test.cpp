// config::parse_services / config::parse: flags and one config file for every program; shared
// keys at the top, a section per service; old names read with a warning; unknown keys named with
// their file; other services' keys skipped in silence.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "even/common/config.h"

namespace {

using namespace even;
namespace po = config::po;

// A program hosting a "writer" and, unless told otherwise, a "reader" (some keys of the real
// services).
struct Program {
  config::DbOptions db;
  std::string writer_endpoint = "tcp://127.0.0.1:5550";
  int writer_recv_hwm = 10000;
  int writer_max_batch_events = 5000;
  bool writer_no_standby = false;
  int reader_recv_hwm = 1000;
  int reader_page_max_events = 10000;
  po::options_description desc{"test program"};
  bool with_reader;

  explicit Program(bool host_reader = true) : with_reader(host_reader) {
    config::add_db_options(desc, db);
    desc.add_options()("writer-endpoint", po::value(&writer_endpoint)->default_value(writer_endpoint), "");
    po::options_description writer("[writer]");
    writer.add_options()
        ("writer.recv-hwm", po::value(&writer_recv_hwm)->default_value(writer_recv_hwm), "")
        ("writer.max-batch-events", po::value(&writer_max_batch_events)->default_value(writer_max_batch_events), "")
        ("writer.no-standby", po::bool_switch(&writer_no_standby), "");
    po::options_description reader("[reader]");
    reader.add_options()
        ("reader.recv-hwm", po::value(&reader_recv_hwm)->default_value(reader_recv_hwm), "")
        ("reader.page-max-events", po::value(&reader_page_max_events)->default_value(reader_page_max_events), "");
    desc.add(writer);
    if (with_reader) desc.add(reader);
  }

  // Parses `flags` as the command line.
  std::optional<config::Parsed> parse(std::vector<std::string> flags) {
    flags.insert(flags.begin(), "program");
    std::vector<const char*> argv;
    for (const auto& f : flags) argv.push_back(f.c_str());
    std::vector<std::string> sections = {config::kWriterSection};
    if (with_reader) sections.push_back(config::kReaderSection);
    return config::parse_services(static_cast<int>(argv.size()), argv.data(), desc, "usage", sections);
  }
};

// A config file, removed at the end of the test.
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text)
      : path_("/tmp/even-config_test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".conf") {
    std::ofstream(path_) << text;
  }
  ~ConfigFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

std::string joined(const std::vector<std::string>& warnings) {
  std::string out;
  for (const auto& w : warnings) out += w + "\n";
  return out;
}

TEST(ConfigTest, SectionsConfigureEachServiceAndSharedKeysAreAtTheTop) {
  ConfigFile file(
      "db-name = shop\n"
      "writer-endpoint = tcp://10.0.0.1:5550\n"
      "[writer]\n"
      "recv-hwm = 11\n"
      "max-batch-events = 12\n"
      "no-standby = true\n"
      "[reader]\n"
      "recv-hwm = 21\n"
      "page-max-events = 22\n");
  Program p;
  auto parsed = p.parse({"--config", file.path()});
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->warnings.empty()) << joined(parsed->warnings);
  EXPECT_EQ(p.db.name, "shop");
  EXPECT_EQ(p.writer_endpoint, "tcp://10.0.0.1:5550");
  EXPECT_EQ(p.writer_recv_hwm, 11);
  EXPECT_EQ(p.writer_max_batch_events, 12);
  EXPECT_TRUE(p.writer_no_standby);
  EXPECT_EQ(p.reader_recv_hwm, 21);
  EXPECT_EQ(p.reader_page_max_events, 22);
}

TEST(ConfigTest, DottedFlagsWinOverTheFile) {
  ConfigFile file("[writer]\nrecv-hwm = 11\n[reader]\nrecv-hwm = 21\n");
  Program p;
  auto parsed = p.parse({"--config", file.path(), "--writer.recv-hwm", "5", "--reader.recv-hwm=6", "--writer.no-standby"});
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->warnings.empty()) << joined(parsed->warnings);
  EXPECT_EQ(p.writer_recv_hwm, 5);
  EXPECT_EQ(p.reader_recv_hwm, 6);
  EXPECT_TRUE(p.writer_no_standby);
}

TEST(ConfigTest, AnOldKeyAtTheTopStillWorksWithAWarningNamingKeyAndFile) {
  ConfigFile file("recv-hwm = 7\npage-max-events = 8\nno-standby = true\n");
  Program p;
  auto parsed = p.parse({"--config", file.path()});
  ASSERT_TRUE(parsed);
  // recv-hwm was the option of both services: it still sets both.
  EXPECT_EQ(p.writer_recv_hwm, 7);
  EXPECT_EQ(p.reader_recv_hwm, 7);
  EXPECT_EQ(p.reader_page_max_events, 8);
  EXPECT_TRUE(p.writer_no_standby);
  const std::string w = joined(parsed->warnings);
  ASSERT_EQ(parsed->warnings.size(), 3u) << w;
  EXPECT_NE(w.find(file.path() + ": key 'recv-hwm' at the top is an old name: write it under [writer] and [reader]"),
            std::string::npos)
      << w;
  EXPECT_NE(w.find("'page-max-events'"), std::string::npos) << w;
  EXPECT_NE(w.find("'no-standby'"), std::string::npos) << w;
}

TEST(ConfigTest, AKeyInItsSectionWinsOverItsOldName) {
  ConfigFile file("recv-hwm = 7\n[writer]\nrecv-hwm = 11\n");
  Program p;
  auto parsed = p.parse({"--config", file.path()});
  ASSERT_TRUE(parsed);
  EXPECT_EQ(p.writer_recv_hwm, 11);
  EXPECT_EQ(p.reader_recv_hwm, 7);  // the old name still stands for the reader's
  ASSERT_EQ(parsed->warnings.size(), 1u) << joined(parsed->warnings);
}

TEST(ConfigTest, AnOldFlagStillWorksWithAWarning) {
  Program p;
  auto parsed = p.parse({"--max-batch-events", "9", "--no-standby", "--page-max-events=4"});
  ASSERT_TRUE(parsed);
  EXPECT_EQ(p.writer_max_batch_events, 9);
  EXPECT_TRUE(p.writer_no_standby);
  EXPECT_EQ(p.reader_page_max_events, 4);
  const std::string w = joined(parsed->warnings);
  EXPECT_NE(w.find("--max-batch-events is an old name: use --writer.max-batch-events"), std::string::npos) << w;
  EXPECT_NE(w.find("--no-standby is an old name: use --writer.no-standby"), std::string::npos) << w;
  EXPECT_NE(w.find("--page-max-events is an old name: use --reader.page-max-events"), std::string::npos) << w;
}

TEST(ConfigTest, AnOldFlagBeatsTheFileButNotTheNewFlag) {
  ConfigFile file("[writer]\nrecv-hwm = 11\n");
  Program p;
  auto parsed = p.parse({"--config", file.path(), "--recv-hwm", "3", "--reader.recv-hwm", "4"});
  ASSERT_TRUE(parsed);
  EXPECT_EQ(p.writer_recv_hwm, 3);
  EXPECT_EQ(p.reader_recv_hwm, 4);
}

TEST(ConfigTest, AnUnknownKeyIsAWarningNamingKeyAndFile) {
  ConfigFile file("no-such-key = 1\n[writer]\nrecv-hwm = 11\nno-such-writer-key = 2\n[no-such-service]\nx = 3\n");
  Program p;
  auto parsed = p.parse({"--config", file.path()});
  ASSERT_TRUE(parsed);
  EXPECT_EQ(p.writer_recv_hwm, 11);
  const std::string w = joined(parsed->warnings);
  ASSERT_EQ(parsed->warnings.size(), 3u) << w;
  EXPECT_NE(w.find(file.path() + ": unknown key 'no-such-key' (ignored)"), std::string::npos) << w;
  EXPECT_NE(w.find(file.path() + ": unknown key 'no-such-writer-key' in [writer] (ignored)"), std::string::npos) << w;
  EXPECT_NE(w.find(file.path() + ": unknown key 'x' in [no-such-service] (ignored)"), std::string::npos) << w;
}

TEST(ConfigTest, KeysOfServicesNotHostedHereAreSkippedInSilence) {
  // Shared keys this program does not read, another service's section, another service's old
  // names at the top: all belong to the one file of the cluster.
  ConfigFile file(
      "reader-endpoint = tcp://127.0.0.1:5553\n"
      "query-db-name = q\n"
      "projections = p.json\n"
      "gap-wait-ms = 5\n"
      "page-max-events = 8\n"
      "[reader]\n"
      "page-max-events = 9\n"
      "anything = 1\n"
      "[dispatcher]\n"
      "gap-wait-ms = 5\n"
      "[projector]\n"
      "max-batch-events = 10\n");
  Program p(/*with_reader=*/false);
  auto parsed = p.parse({"--config", file.path()});
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->warnings.empty()) << joined(parsed->warnings);
}

TEST(ConfigTest, AnOldFlagOfAServiceNotHostedHereIsAnError) {
  EXPECT_THROW(Program(/*with_reader=*/false).parse({"--page-max-events", "4"}), po::error);
  EXPECT_THROW(Program().parse({"--no-such-flag", "4"}), po::error);
}

TEST(ConfigTest, ToolsReadTheSharedKeysOfTheSameFile) {
  ConfigFile file("db-name = shop\nrecv-hwm = 7\n[writer]\nrecv-hwm = 11\n[reader]\nworkers = 2\n");
  config::DbOptions db;
  po::options_description desc("tool");
  config::add_db_options(desc, db);
  const std::string config_file = file.path();
  const char* argv[] = {"tool", "--config", config_file.c_str()};
  ::testing::internal::CaptureStderr();
  auto vm = config::parse(3, argv, desc, "usage");
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(vm);
  EXPECT_EQ(db.name, "shop");
  EXPECT_EQ(err, "");
}

TEST(ConfigTest, ToolsWarnOnStderrAboutAnUnknownKey) {
  ConfigFile file("db-nmae = shop\n");
  config::DbOptions db;
  po::options_description desc("tool");
  config::add_db_options(desc, db);
  const std::string config_file = file.path();
  const char* argv[] = {"/usr/bin/evenctl", "--config", config_file.c_str()};
  ::testing::internal::CaptureStderr();
  auto vm = config::parse(3, argv, desc, "usage");
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(vm);
  EXPECT_EQ(err, "evenctl: warning: " + file.path() + ": unknown key 'db-nmae' (ignored)\n");
}

}  // namespace

// The store keys in a service's section: that service's own MySQL user and password file.
TEST(ConfigTest, DbKeysInTheSectionOfTheOnlyHostedServiceWinOverTheTopOnes) {
  ConfigFile file(
      "db-user = root\ndb-name = shop\ndb-tls = off\n"
      "[writer]\ndb-user = even_writer\ndb-tls = on\n"
      "[reader]\ndb-user = even_reader\n");
  Program p(/*host_reader=*/false);
  auto parsed = p.parse({"--config", file.path()});
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->warnings.empty()) << joined(parsed->warnings);
  EXPECT_EQ(p.db.user, "even_writer");
  EXPECT_EQ(p.db.tls, "on");
  EXPECT_EQ(p.db.name, "shop");  // not in the section: the top one
}

TEST(ConfigTest, ADbFlagWinsOverTheSectionsKey) {
  ConfigFile file("[writer]\ndb-user = even_writer\n");
  Program p(/*host_reader=*/false);
  ASSERT_TRUE(p.parse({"--config", file.path(), "--db-user", "admin"}));
  EXPECT_EQ(p.db.user, "admin");
}

TEST(ConfigTest, AProgramHostingSeveralServicesReadsTheTopDbKeysAndWarnsAboutASections) {
  ConfigFile file("db-user = root\n[writer]\ndb-user = even_writer\n");
  Program p;  // writer and reader, like even-server
  auto parsed = p.parse({"--config", file.path()});
  ASSERT_TRUE(parsed);
  EXPECT_EQ(p.db.user, "root");
  const std::string w = joined(parsed->warnings);
  ASSERT_EQ(parsed->warnings.size(), 1u) << w;
  EXPECT_NE(w.find(file.path() + ": key 'db-user' in [writer] is read by even-writer alone"), std::string::npos) << w;
}

TEST(ConfigTest, APasswordOnTheCommandLineIsAWarning) {
  Program p;
  auto parsed = p.parse({"--db-password", "secret"});
  ASSERT_TRUE(parsed);
  EXPECT_EQ(p.db.password, "secret");
  const std::string w = joined(parsed->warnings);
  EXPECT_NE(w.find("--db-password shows the password to every user of this machine (ps): use --db-password-file"),
            std::string::npos)
      << w;
}

TEST(ConfigTest, APasswordFileReadableByOthersIsRefused) {
  ConfigFile secret("s3cret\n");
  ::chmod(secret.path().c_str(), 0644);
  Program p;
  try {
    p.parse({"--db-password-file", secret.path()});
    FAIL() << "a password file with mode 0644 was accepted";
  } catch (const po::error& e) {
    EXPECT_NE(std::string(e.what()).find("has mode 0644: it must be readable by its owner only"), std::string::npos)
        << e.what();
  }
  ::chmod(secret.path().c_str(), 0600);
  Program q;
  ASSERT_TRUE(q.parse({"--db-password-file", secret.path()}));
  EXPECT_EQ(q.db.password_file, secret.path());
  EXPECT_EQ(store::resolve_password(q.db), "s3cret");
}

TEST(ConfigTest, DbTlsIsOnOffOrAutoAndAutoMeansOnUnlessLoopback) {
  Program p;
  EXPECT_THROW(p.parse({"--db-tls", "yes"}), po::error);
  config::DbOptions db;
  EXPECT_EQ(db.tls, "auto");
  for (const char* url : {"tcp://127.0.0.1:3306", "tcp://localhost:3306", "tcp://[::1]:3306", "unix:///run/m.sock"}) {
    db.url = url;
    EXPECT_FALSE(store::uses_tls(db)) << url;
  }
  for (const char* url : {"tcp://10.0.0.5:3306", "tcp://db.example:3306", "tcp://[fd00::1]:3306"}) {
    db.url = url;
    EXPECT_TRUE(store::uses_tls(db)) << url;
  }
  db.tls = "on";
  db.url = "tcp://127.0.0.1:3306";
  EXPECT_TRUE(store::uses_tls(db));
  db.tls = "off";
  db.url = "tcp://10.0.0.5:3306";
  EXPECT_FALSE(store::uses_tls(db));
}
