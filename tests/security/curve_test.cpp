// CURVE and the ZAP allowlist end to end: real even-writer, even-dispatcher and even-reader with
// keys made by `evenctl keygen`, on 127.0.0.1; clients that are ours (the client library) and
// not ours (/usr/bin/python3 with pyzmq, and raw libzmq sockets); a TCP relay that records what
// crosses loopback. README.md "Security" is what these tests hold the code to.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <zmq.hpp>

#include "even/client/client.h"
#include "even/common/curve.h"
#include "even/common/net.h"
#include "support/process.h"
#include "support/test_env.h"

namespace even::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A folder of keys: servers' certs in it, the clients' public certs let in under allowed/.
class KeyDir {
 public:
  KeyDir() : dir_("/tmp/even-curve-test-" + std::to_string(::getpid()) + "-" + std::to_string(count_++)) {
    fs::remove_all(dir_);
    fs::create_directories(allowed());
  }
  ~KeyDir() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const std::string& dir() const { return dir_; }
  std::string allowed() const { return dir_ + "/allowed"; }
  std::string pub(const std::string& name) const { return dir_ + "/" + name + ".key"; }
  std::string secret(const std::string& name) const { return dir_ + "/" + name + ".key_secret"; }
  // evenctl keygen NAME [--role roles]; with `allow`, its public cert is copied to allowed/.
  void make(const std::string& name, const std::string& roles = "", bool allow = false) {
    std::vector<std::string> argv = {bin("tools/evenctl"), "keygen", name, "--dir", dir_};
    if (!roles.empty()) argv.insert(argv.end(), {"--role", roles});
    std::string out;
    ASSERT_EQ(run_tool(argv, &out), 0) << out;
    if (allow) this->allow(name);
  }
  void allow(const std::string& name) const {
    // Written beside and renamed in, so that the reload never reads half a file.
    fs::copy_file(pub(name), allowed() + "/." + name + ".tmp", fs::copy_options::overwrite_existing);
    fs::rename(allowed() + "/." + name + ".tmp", allowed() + "/" + name + ".key");
  }
  client::ClientOptions client(const std::string& name) const {
    client::ClientOptions o;
    o.security.secret_key = secret(name);
    o.security.writer_public_key = pub("writer");
    o.security.reader_public_key = pub("reader");
    o.security.dispatcher_public_key = pub("dispatcher");
    o.timeout = 20s;
    return o;
  }

 private:
  static inline int count_ = 0;
  std::string dir_;
};

std::string log_path(const std::string& name) {
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string test = info ? std::string(info->test_suite_name()) + "." + info->name() : "test";
  return "/tmp/even-" + test + "-" + name + "-" + std::to_string(::getpid()) + ".log";
}

// Writer, dispatcher and reader, each with its own key; allowed/ lists app (every client role),
// ro (read only) and the writer's key (feed: it pushes to the dispatcher).
class SecureCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_.make("writer", "feed", true);
    keys_.make("reader");
    keys_.make("dispatcher");
    keys_.make("app", "append,read,subscribe", true);
    keys_.make("ro", "read", true);
    keys_.make("stranger", "append,read,subscribe");  // a valid key, never listed
    auto common = [&](const std::string& own) {
      std::vector<std::string> a = {"--curve-secret-key", keys_.secret(own), "--allow-keys-dir", keys_.allowed(),
                                    "--dispatcher-public-key", keys_.pub("dispatcher")};
      for (auto& f : db_flags(store_.db())) a.push_back(f);
      return a;
    };
    auto d = common("dispatcher");
    d.insert(d.begin(), {bin("services/dispatcher/even-dispatcher"), "--dispatcher-pull-endpoint", pull_,
                         "--dispatcher-pub-endpoint", pub_, "--dispatcher.heartbeat-ms", "50"});
    dispatcher_proc_ = std::make_unique<Process>(d, log_path("dispatcher"));
    ASSERT_TRUE(dispatcher_proc_->wait_for_log("pulling committed events", 30s)) << dispatcher_proc_->log();
    auto w = common("writer");
    w.insert(w.begin(), {bin("services/writer/even-writer"), "--writer-endpoint", writer_, "--dispatcher-pull-endpoint",
                         pull_});
    writer_proc_ = std::make_unique<Process>(w, log_path("writer"));
    ASSERT_TRUE(writer_proc_->wait_for_log("serving appends", 30s)) << writer_proc_->log();
    auto r = common("reader");
    r.insert(r.begin(), {bin("services/reader/even-reader"), "--reader-endpoint", reader_});
    reader_proc_ = std::make_unique<Process>(r, log_path("reader"));
    ASSERT_TRUE(reader_proc_->wait_for_log("serving reads", 30s)) << reader_proc_->log();
  }
  void TearDown() override {
    for (auto* p : {reader_proc_.get(), writer_proc_.get(), dispatcher_proc_.get()})
      if (p) {
        p->signal(SIGTERM);
        EXPECT_EQ(p->wait(20s), 0) << p->log();
      }
  }

  client::ClientOptions options(const std::string& key, std::chrono::milliseconds timeout = 20s) const {
    auto o = keys_.client(key);
    o.writer_endpoint = writer_;
    o.reader_endpoint = reader_;
    o.feed_endpoint = pub_;
    o.timeout = timeout;
    return o;
  }
  static std::vector<client::NewEvent> one_event(const std::string& payload = "{\"n\":1}") {
    client::NewEvent e;
    e.type = "Tested";
    e.payload = payload;
    return {e};
  }
  std::int64_t stored() const { return store_.scalar("SELECT COUNT(*) FROM events"); }

  // /usr/bin/python3 with pyzmq: a DEALER (plain, or CURVE with `client_secret` against
  // `server_public`) sends one frame to `endpoint` and waits `wait_ms` for anything back.
  // Returns "REPLY" or "NOTHING" (or the script's error).
  std::string foreign_dealer(const std::string& endpoint, const std::string& client_secret = "",
                             const std::string& server_public = "", int wait_ms = 4000) const {
    const std::string script = keys_.dir() + "/dealer.py";
    std::ofstream(script) << R"(import sys, zmq, zmq.auth
endpoint, secret, server, wait_ms = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.linger = 0
if secret:
    pub, sec = zmq.auth.load_certificate(secret)
    s.curve_publickey, s.curve_secretkey = pub, sec
    s.curve_serverkey = zmq.auth.load_certificate(server)[0]
s.connect(endpoint)
s.send(b"not a request, but any answer will do")
print("REPLY" if s.poll(wait_ms) else "NOTHING")
)";
    std::string out;
    run_tool({"/usr/bin/python3", script, endpoint, client_secret, server_public, std::to_string(wait_ms)}, &out);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }

  KeyDir keys_;
  TestStore store_;
  std::string writer_ = loopback_endpoint(), reader_ = loopback_endpoint(), pull_ = loopback_endpoint(),
              pub_ = loopback_endpoint();
  std::unique_ptr<Process> dispatcher_proc_, writer_proc_, reader_proc_;
};

TEST(CurveKeygen, WritesZcertFilesWithTheirModesAndRefusesToOverwrite) {
  KeyDir keys;
  keys.make("node", "append,read");
  struct stat pub {}, sec {};
  ASSERT_EQ(::stat(keys.pub("node").c_str(), &pub), 0);
  ASSERT_EQ(::stat(keys.secret("node").c_str(), &sec), 0);
  EXPECT_EQ(sec.st_mode & 0777, 0600u);
  EXPECT_EQ(pub.st_mode & 0777, 0644u);
  const auto public_cert = curve::load_cert(keys.pub("node"));
  const auto secret_cert = curve::load_cert(keys.secret("node"));
  EXPECT_TRUE(public_cert.secret_key.empty());
  EXPECT_EQ(public_cert.public_key, secret_cert.public_key);
  EXPECT_TRUE(curve::is_z85_key(secret_cert.secret_key));
  EXPECT_EQ(public_cert.metadata_value("role"), "append read");
  EXPECT_EQ(read_text(keys.pub("node")).find("secret-key"), std::string::npos);

  // A second keygen of the same name fails and leaves both files as they were.
  const std::string before = read_text(keys.secret("node"));
  std::string out;
  EXPECT_NE(run_tool({bin("tools/evenctl"), "keygen", "node", "--dir", keys.dir()}, &out), 0);
  EXPECT_NE(out.find("not overwriting"), std::string::npos) << out;
  EXPECT_EQ(read_text(keys.secret("node")), before);
  // An unknown role is a usage error that writes nothing.
  EXPECT_EQ(run_tool({bin("tools/evenctl"), "keygen", "other", "--dir", keys.dir(), "--role", "admin"}, &out), 2)
      << out;
  EXPECT_FALSE(fs::exists(keys.pub("other")));

  // pyzmq (Debian's python3-zmq) reads them as czmq's zcert files.
  ASSERT_EQ(run_tool({"/usr/bin/python3", "-c",
                      "import sys, zmq.auth\n"
                      "p, s = zmq.auth.load_certificate(sys.argv[1])\n"
                      "q, n = zmq.auth.load_certificate(sys.argv[2])\n"
                      "assert n is None and p == q and len(s) == 40, (p, q, s, n)\n"
                      "print(p.decode())",
                      keys.secret("node"), keys.pub("node")},
                     &out),
            0)
      << out;
  EXPECT_EQ(out.substr(0, curve::kKeyChars), secret_cert.public_key) << out;
}

TEST(CurveConfig, ATcpEndpointWithoutKeysIsAStartupErrorAndInsecureIsAWarning) {
  TestStore store;
  const std::string endpoint = loopback_endpoint();
  std::vector<std::string> argv = {bin("services/writer/even-writer"), "--writer-endpoint", endpoint,
                                   "--curve-secret-key", "", "--log-level", "info"};
  for (auto& f : db_flags(store.db())) argv.push_back(f);
  std::string out;
  EXPECT_EQ(run_tool(argv, &out), 2) << out;
  EXPECT_NE(out.find("--insecure"), std::string::npos) << out;
  EXPECT_NE(out.find("allow-keys-dir"), std::string::npos) << out;
  argv.push_back("--insecure");
  Process writer(argv, log_path("writer"));
  EXPECT_TRUE(writer.wait_for_log("--insecure: plain TCP", 30s)) << writer.log();
  EXPECT_TRUE(writer.wait_for_log("serving appends", 30s)) << writer.log();
  // A client command too.
  EXPECT_EQ(run_tool({bin("tools/evenctl"), "ping", "--writer-endpoint", endpoint, "--curve-secret-key", ""}, &out), 2)
      << out;
  EXPECT_NE(out.find("writer-public-key"), std::string::npos) << out;
  writer.signal(SIGTERM);
  EXPECT_EQ(writer.wait(20s), 0) << writer.log();
}

TEST_F(SecureCluster, AForeignClientWithoutAListedKeyGetsNothingWhileAListedOneIsServed) {
  // Not our library: a plain DEALER, and a CURVE DEALER with a valid but unlisted key.
  EXPECT_EQ(foreign_dealer(writer_), "NOTHING");
  EXPECT_EQ(foreign_dealer(writer_, keys_.secret("stranger"), keys_.pub("writer")), "NOTHING");
  EXPECT_EQ(foreign_dealer(reader_, keys_.secret("stranger"), keys_.pub("reader")), "NOTHING");
  // The same script with a listed key gets the writer's answer (an error: the frame is no
  // request), so the two above would say REPLY if the keys were not checked.
  EXPECT_EQ(foreign_dealer(writer_, keys_.secret("app"), keys_.pub("writer")), "REPLY");
  // evenctl with a listed key appends.
  std::string out;
  EXPECT_EQ(run_tool({bin("tools/evenctl"), "append", "cli-1", "--type", "Tested", "--writer-endpoint", writer_,
                      "--reader-endpoint", reader_, "--dispatcher-pub-endpoint", pub_, "--curve-secret-key",
                      keys_.secret("app"), "--writer-public-key", keys_.pub("writer"), "--reader-public-key",
                      keys_.pub("reader"), "--dispatcher-public-key", keys_.pub("dispatcher")},
                     &out),
            0)
      << out;
  EXPECT_EQ(stored(), 1);
  // Refusals are logged with the peer's address and the key, once per key.
  EXPECT_TRUE(writer_proc_->wait_for_log("refused a client on append from 127.0.0.1", 10s)) << writer_proc_->log();
  const std::string stranger = curve::load_cert(keys_.pub("stranger")).public_key;
  EXPECT_NE(writer_proc_->log().find(stranger), std::string::npos) << writer_proc_->log();
}

TEST_F(SecureCluster, AnUnlistedKeyCannotAppendReadOrSubscribe) {
  client::Client stranger(options("stranger", 4s));
  EXPECT_THROW(stranger.append("s-1", ExpectedVersion::any(), one_event()), client::Timeout);
  EXPECT_THROW(stranger.head(), client::Timeout);
  EXPECT_EQ(stored(), 0);

  // Subscribe: a raw SUB with the unlisted key hears nothing, not even the feed's heartbeats
  // (every 50 ms), while the same socket with a listed key hears them.
  auto heard_within = [&](const std::string& key, std::chrono::milliseconds wait) {
    zmq::context_t ctx(1);
    zmq::socket_t sub(ctx, zmq::socket_type::sub);
    net::SocketOptions so;
    so.curve = {curve::load_cert(keys_.pub("dispatcher")).public_key, curve::load_cert(keys_.secret(key)).public_key,
                curve::load_cert(keys_.secret(key)).secret_key};
    net::configure(sub, so);
    sub.set(zmq::sockopt::subscribe, "");
    sub.connect(pub_);
    zmq::pollitem_t items[] = {{sub.handle(), 0, ZMQ_POLLIN, 0}};
    return zmq::poll(items, 1, wait) > 0;
  };
  EXPECT_FALSE(heard_within("stranger", 3s));
  EXPECT_FALSE(heard_within("ro", 3s)) << "a read-only key may not subscribe";
  EXPECT_TRUE(heard_within("app", 30s));
}

TEST_F(SecureCluster, AReadOnlyKeyReadsButCannotAppend) {
  client::Client app(options("app"));
  app.append("acct-1", ExpectedVersion::no_stream(), one_event());
  // The listed key's live subscription gets the event through writer -> dispatcher (role feed)
  // -> PUB (role subscribe).
  std::mutex mu;
  std::vector<std::string> seen;
  auto sub = app.subscribe(GlobalSeq(1), {}, [&](const client::RecordedEvent& e) {
    std::lock_guard lock(mu);
    seen.push_back(e.stream);
  });
  app.append("acct-1", ExpectedVersion::any(), one_event());
  for (int i = 0; i < 600; ++i) {
    {
      std::lock_guard lock(mu);
      if (seen.size() >= 2) break;
    }
    std::this_thread::sleep_for(50ms);
  }
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen.size(), 2u);
  }
  EXPECT_TRUE(dispatcher_proc_->log().find("refused") == std::string::npos) << dispatcher_proc_->log();

  client::Client ro(options("ro", 4s));
  EXPECT_EQ(ro.read_stream("acct-1", StreamSeq(1)).to_vector().size(), 2u);
  EXPECT_THROW(ro.append("acct-1", ExpectedVersion::any(), one_event()), client::Timeout);
  EXPECT_EQ(stored(), 2);
  EXPECT_TRUE(writer_proc_->wait_for_log("key 'ro' lacks role append", 10s)) << writer_proc_->log();
}

TEST_F(SecureCluster, AKeyAddedToTheFolderAtRunTimeIsAcceptedAfterTheReload) {
  keys_.make("late", "append");
  {
    client::Client late(options("late", 3s));
    EXPECT_THROW(late.append("late-1", ExpectedVersion::any(), one_event()), client::Timeout);
  }
  keys_.allow("late");
  // The writer rereads the folder within about a second of the change; each try is a fresh client.
  bool appended = false;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!appended && std::chrono::steady_clock::now() < deadline) {
    try {
      client::Client late(options("late", 3s));
      late.append("late-1", ExpectedVersion::any(), one_event());
      appended = true;
    } catch (const client::Timeout&) {
    }
  }
  EXPECT_TRUE(appended) << writer_proc_->log();
  EXPECT_TRUE(writer_proc_->wait_for_log("allow-keys-dir", 5s)) << writer_proc_->log();
  // Removing it (and SIGHUP, the operator's way) takes the key away again.
  fs::remove(keys_.allowed() + "/late.key");
  writer_proc_->signal(SIGHUP);
  EXPECT_TRUE(writer_proc_->wait_for_log("SIGHUP: rereading", 10s)) << writer_proc_->log();
  std::this_thread::sleep_for(500ms);  // the reread follows the log line
  client::Client late(options("late", 3s));
  EXPECT_THROW(late.append("late-2", ExpectedVersion::any(), one_event()), client::Timeout);
  EXPECT_EQ(stored(), 1);
}

// A TCP relay on 127.0.0.1 between clients and `upstream` that keeps every byte it forwards.
// Owns one thread; stops on destruction.
class RecordingRelay {
 public:
  explicit RecordingRelay(int upstream_port) : upstream_port_(upstream_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listener_, 16) != 0)
      throw std::runtime_error("relay: bind/listen failed");
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~RecordingRelay() {
    stop_ = true;
    thread_.join();
    for (auto& [a, b] : pairs_) ::close(a), ::close(b);
    ::close(listener_);
  }
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  std::string recorded() {
    std::lock_guard lock(mu_);
    return bytes_;
  }

 private:
  void run() {
    char buf[65536];
    while (!stop_) {
      std::vector<pollfd> fds = {{listener_, POLLIN, 0}};
      for (auto& [a, b] : pairs_) fds.push_back({a, POLLIN, 0}), fds.push_back({b, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int client = ::accept(listener_, nullptr, nullptr);
        const int up = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<std::uint16_t>(upstream_port_));
        if (client >= 0 && ::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
          pairs_.emplace_back(client, up);
        } else {
          if (client >= 0) ::close(client);
          ::close(up);
        }
        continue;  // fds no longer matches pairs_
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        auto& pair = pairs_[(i - 1) / 2];
        const int from = fds[i].fd, to = from == pair.first ? pair.second : pair.first;
        const auto n = ::read(from, buf, sizeof buf);
        if (n <= 0) {
          ::shutdown(to, SHUT_WR);
          continue;
        }
        {
          std::lock_guard lock(mu_);
          bytes_.append(buf, static_cast<std::size_t>(n));
        }
        for (ssize_t done = 0; done < n;) {
          const auto w = ::write(to, buf + done, static_cast<std::size_t>(n - done));
          if (w <= 0) break;
          done += w;
        }
      }
    }
  }

  int upstream_port_, listener_ = -1, port_ = 0;
  std::vector<std::pair<int, int>> pairs_;  // (client, upstream), relay thread only
  std::mutex mu_;
  std::string bytes_;  // guarded by mu_
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int port_of(const std::string& endpoint) { return std::stoi(endpoint.substr(endpoint.rfind(':') + 1)); }

TEST_F(SecureCluster, LoopbackTrafficCarriesNoPayloadInClear) {
  const std::string marker = "DISTINCTIVE-PAYLOAD-" + std::to_string(::getpid()) + "-4f1c9";
  {
    RecordingRelay relay(port_of(writer_));
    auto o = options("app");
    o.writer_endpoint = relay.endpoint();
    client::Client app(o);
    app.append("clear-1", ExpectedVersion::any(), one_event("{\"secret\":\"" + marker + "\"}"));
    const auto bytes = relay.recorded();
    EXPECT_GT(bytes.size(), marker.size()) << "the relay saw the traffic";
    EXPECT_EQ(bytes.find(marker), std::string::npos) << "the payload crossed loopback in clear";
    EXPECT_EQ(bytes.find("clear-1"), std::string::npos) << "the stream name crossed loopback in clear";
  }
  EXPECT_EQ(stored(), 1);

  // The same through a writer with --insecure: the search finds the marker, so it would above.
  TestStore plain_store;
  const std::string plain = loopback_endpoint();
  std::vector<std::string> argv = {bin("services/writer/even-writer"), "--writer-endpoint", plain, "--insecure"};
  for (auto& f : db_flags(plain_store.db())) argv.push_back(f);
  Process writer(argv, log_path("plain-writer"));
  ASSERT_TRUE(writer.wait_for_log("serving appends", 30s)) << writer.log();
  {
    RecordingRelay relay(port_of(plain));
    client::ClientOptions o;
    o.writer_endpoint = relay.endpoint();
    o.security.insecure = true;
    o.timeout = 20s;
    client::Client c(o);
    c.append("clear-1", ExpectedVersion::any(), one_event("{\"secret\":\"" + marker + "\"}"));
    EXPECT_NE(relay.recorded().find(marker), std::string::npos);
  }
  writer.signal(SIGTERM);
  EXPECT_EQ(writer.wait(20s), 0) << writer.log();
}

}  // namespace
}  // namespace even::test
