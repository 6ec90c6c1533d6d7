// A child process for tests: started with fork/exec, output to a log file, ended by PID only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace even::test {

// Tests that do not test security run Even's programs over plain TCP: Process and run_tool add
// --insecure to the arguments of an Even service (even-writer, -reader, -dispatcher, -projector,
// -server, -admin), of the bank example and of evenctl's client commands, unless the arguments already
// say how to secure it (--insecure or --curve-secret-key) or ask for --help. A test of CURVE
// passes its keys as flags. Returns argv with the flag added when it applies.
std::vector<std::string> with_default_security(std::vector<std::string> argv);

class Process {
 public:
  // Starts argv[0] with argv (with_default_security applied); stdout and stderr go to log_path. `env` ("NAME=value") is added to
  // the environment the child inherits (e.g. NOTIFY_SOCKET for a service).
  Process(std::vector<std::string> argv, std::string log_path, std::vector<std::string> env = {});
  // SIGKILLs the child if it still runs, and reaps it.
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits for exit; returns the exit code (128+signal when killed), or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  bool running();
  std::string log() const;
  // Waits until the log contains `text`; false on timeout or exit.
  bool wait_for_log(const std::string& text, std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool reaped_ = false;
  std::string log_path_;
};

// Runs argv (a command-line tool, e.g. bin("tools/evenctl") and its arguments, with
// with_default_security applied) to completion;
// its stdout and stderr together go to *out. Returns the exit code (-1 when it did not exit).
int run_tool(const std::vector<std::string>& argv, std::string* out = nullptr);

}  // namespace even::test
