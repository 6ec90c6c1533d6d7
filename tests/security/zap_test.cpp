// The ZAP handler in process (even/common/zap.h): the IP allowlist, the allowlist folder, and an
// Authenticator deciding for a real CURVE ROUTER on one context, by key, role and address.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "even/common/curve.h"
#include "even/common/net.h"
#include "even/common/zap.h"

namespace even::zap {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST(IpAllowlist, MatchesAddressesAndCidrsOfBothFamilies) {
  IpAllowlist any;
  EXPECT_TRUE(any.allows("203.0.113.9"));
  IpAllowlist list("10.1.0.0/16, 127.0.0.1,2001:db8::/32");
  EXPECT_TRUE(list.allows("10.1.200.3"));
  EXPECT_FALSE(list.allows("10.2.0.1"));
  EXPECT_TRUE(list.allows("127.0.0.1"));
  EXPECT_FALSE(list.allows("127.0.0.2"));
  EXPECT_TRUE(list.allows("2001:db8:1::5"));
  EXPECT_FALSE(list.allows("2001:db9::1"));
  EXPECT_TRUE(list.allows("::ffff:10.1.2.3")) << "an IPv4 client of a dual-stack socket";
  EXPECT_FALSE(list.allows("not an address"));
  EXPECT_TRUE(IpAllowlist("10.0.0.0/7").allows("11.255.0.1"));
  EXPECT_FALSE(IpAllowlist("10.0.0.0/7").allows("12.0.0.1"));
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "example.com", "10.0.0.0/8x", "::1/129"})
    EXPECT_THROW(IpAllowlist{bad}, std::invalid_argument) << bad;
}

class ZapTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(dir_); }
  void TearDown() override { fs::remove_all(base_); }
  curve::Cert allow(const std::string& name, const std::string& roles) {
    auto cert = curve::generate({{"role", roles}});
    curve::save_cert(cert, dir_ + "/" + name + ".key", base_ + "/" + name + ".key_secret");
    return cert;
  }
  std::shared_ptr<spdlog::logger> logger() {
    return std::make_shared<spdlog::logger>("zap", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_));
  }
  // A DEALER with `client` sends to a ROUTER secured under `role`: did the ROUTER get it?
  bool accepted(Authenticator& auth, zmq::context_t& ctx, curve::Role role, const curve::Cert& client) {
    zmq::socket_t router(ctx, zmq::socket_type::router);
    router.set(zmq::sockopt::linger, 0);
    const std::string endpoint = "tcp://127.0.0.1:*";
    auth.secure(router, endpoint, role);
    router.bind(endpoint);
    zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
    net::SocketOptions so;  // a CURVE client, as every client of Even is made (net::configure)
    so.curve = {auth.cert().public_key, client.public_key, client.secret_key};
    net::configure(dealer, so);
    dealer.connect(router.get(zmq::sockopt::last_endpoint));
    dealer.send(zmq::str_buffer("hello"), zmq::send_flags::dontwait);
    zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0}};
    return zmq::poll(items, 1, 1500ms) > 0;
  }

  std::string base_ = "/tmp/even-zap-test-" + std::to_string(::getpid());
  std::string dir_ = base_ + "/allowed";
  std::ostringstream log_;
};

TEST_F(ZapTest, LoadsTheFolderAndSkipsWhatItCannotRead) {
  const auto app = allow("app", "append read");
  std::ofstream(dir_ + "/broken.key") << "curve\n    public-key = \"short\"\n";
  std::ofstream(dir_ + "/notes.txt") << "not a key";
  std::vector<std::string> problems;
  const auto keys = load_allowlist(dir_, &problems);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys.at(app.public_key).name, "app");
  EXPECT_EQ(keys.at(app.public_key).roles, (std::set<curve::Role>{curve::Role::append, curve::Role::read}));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("broken.key"), std::string::npos) << problems[0];
  EXPECT_THROW(load_allowlist(base_ + "/missing", nullptr), std::runtime_error);
}

TEST_F(ZapTest, AcceptsAListedKeyForItsRolesOnlyAndCountsRefusals) {
  const auto app = allow("app", "append");
  const auto stranger = curve::generate();
  auto registry = std::make_shared<metrics::Registry>();
  zmq::context_t ctx(1);
  {
    Authenticator auth(ctx, curve::generate(), dir_, "", logger(), registry);
    EXPECT_EQ(auth.allowed_keys(), 1u);
    // A second handler on the same context cannot bind: there is one per process.
    EXPECT_THROW(Authenticator(ctx, curve::generate(), dir_, "", logger()), std::runtime_error);
    EXPECT_TRUE(accepted(auth, ctx, curve::Role::append, app));
    EXPECT_FALSE(accepted(auth, ctx, curve::Role::read, app));
    EXPECT_FALSE(accepted(auth, ctx, curve::Role::append, stranger));
    EXPECT_GE(auth.refused(), 2u);
    EXPECT_NE(registry->render().find("even_zap_refused_total{role=\"read\"}"), std::string::npos)
        << registry->render();
    EXPECT_NE(log_.str().find("key 'app' lacks role read"), std::string::npos) << log_.str();
    EXPECT_NE(log_.str().find(stranger.public_key), std::string::npos) << log_.str();
  }
  {
    // An IP allowlist that leaves out loopback refuses even a listed key.
    Authenticator auth(ctx, curve::generate(), dir_, "192.0.2.0/24", logger());
    EXPECT_FALSE(accepted(auth, ctx, curve::Role::append, app));
    EXPECT_NE(log_.str().find("address not in allow-ips"), std::string::npos) << log_.str();
  }
}

}  // namespace
}  // namespace even::zap
