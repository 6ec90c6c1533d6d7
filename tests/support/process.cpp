#include "support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace even::test {

std::vector<std::string> with_default_security(std::vector<std::string> argv) {
  if (argv.empty()) return argv;
  const std::string program = argv[0].substr(argv[0].rfind('/') + 1);
  static const std::set<std::string> services = {"even-writer", "even-reader", "even-dispatcher", "even-projector",
                                                 "even-server", "even-admin", "even-groups", "even-group-consumer",
                                                 "bank"};
  static const std::set<std::string> client_commands = {"append", "ping", "read", "read-all", "head",
                                                        "stream-version", "tail", "read-projection", "stream",
                                                        "group"};
  const bool applies = services.count(program) ||
                       (program == "evenctl" && argv.size() > 1 && client_commands.count(argv[1]));
  if (!applies) return argv;
  for (const auto& a : argv)
    if (a == "--insecure" || a == "--curve-secret-key" || a.rfind("--curve-secret-key=", 0) == 0 || a == "--help")
      return argv;
  argv.push_back("--insecure");
  return argv;
}

Process::Process(std::vector<std::string> argv, std::string log_path, std::vector<std::string> env)
    : log_path_(std::move(log_path)) {
  argv = with_default_security(std::move(argv));
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  // The child's environment, built before fork (nothing but exec after it): ours, with `env`
  // added or replacing a variable of the same name.
  std::vector<std::string> vars;
  for (char** e = environ; *e; ++e) {
    std::string v(*e);
    bool replaced = false;
    for (const auto& x : env) replaced = replaced || v.substr(0, v.find('=') + 1) == x.substr(0, x.find('=') + 1);
    if (!replaced) vars.push_back(std::move(v));
  }
  for (auto& x : env) vars.push_back(x);
  std::vector<char*> envp;
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
}

Process::~Process() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
}

void Process::signal(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

int Process::wait(std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!reaped_) {
    pid_t r = ::waitpid(pid_, &status_, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      break;
    }
    if (std::chrono::steady_clock::now() >= end) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

bool Process::running() { return wait(std::chrono::milliseconds(0)) == -1; }

std::string Process::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Process::wait_for_log(const std::string& text, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (log().find(text) != std::string::npos) return true;
    if (!running()) return log().find(text) != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int run_tool(const std::vector<std::string>& given, std::string* out) {
  const auto argv = with_default_security(given);
  std::string cmd;
  for (const auto& a : argv) {
    std::string quoted = "'";
    for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    cmd += (cmd.empty() ? "" : " ") + quoted + "'";
  }
  cmd += " 2>&1";
  std::FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return -1;
  std::string text;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), f)) text.append(buf.data(), n);
  const int status = ::pclose(f);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace even::test
