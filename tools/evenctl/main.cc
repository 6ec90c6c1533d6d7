// evenctl: the operator's and developer's command line for Even.
//
// Each command lives in its own file (cmd_<name>.cc) and is listed in kCommands below.
#include <cstring>
#include <iostream>

#include "evenctl/commands.h"
#include "even/common/config.h"

namespace {

const even::ctl::Command kCommands[] = {
    {"store", "store init [--users-dir DIR] | users --users-dir DIR | status | scavenge [--batch-rows N]: create or "
     "upgrade the store's tables (and the services' least-privilege MySQL users); show the schema version; remove "
     "what stream deletes, truncates and limits hide", even::ctl::cmd_store},
    {"append", "append STREAM --type T [--data JSON | --data - | --data-file PATH] [--expected V] [--id UUID]: "
     "append one event (--data - reads the payload from stdin)",
     even::ctl::cmd_append},
    {"ping", "ping: round trip to the writer", even::ctl::cmd_ping},
    {"read", "read STREAM [--from N] [--backward] [--max N]: a stream's events as JSON lines", even::ctl::cmd_read},
    {"read-all", "read-all [--from N] [--category C] [--type T] [--max N]: all events in global order as JSON lines",
     even::ctl::cmd_read_all},
    {"head", "head: the highest global sequence stored", even::ctl::cmd_head},
    {"stream", "stream delete STREAM [--hard] | truncate STREAM --before N | meta STREAM [--max-count N] "
     "[--max-age SECONDS] | info STREAM [--expected V]: a stream's lifecycle", even::ctl::cmd_stream},
    {"stream-version", "stream-version STREAM: a stream's version and whether it exists", even::ctl::cmd_stream_version},
    {"tail", "tail [--from N] [--category C] [--type T]: print events as they arrive (JSON lines) until interrupted",
     even::ctl::cmd_tail},
    {"stats", "stats [--endpoint HOST:PORT]... [--config FILE] [--watch] [--json]: each service's state, rates and "
     "lags from its /metrics", even::ctl::cmd_stats},
    {"projection", "projection status [--json] | rebuild NAME [--stream] [--wait]: projections' position, lag, state, "
     "rate; ask for a rebuild", even::ctl::cmd_projection},
    {"read-projection", "read-projection NAME [--from N] [--max N]: a projection stream's events as JSON lines",
     even::ctl::cmd_read_projection},
    {"keygen", "keygen NAME [--dir DIR] [--role append,read,subscribe,feed]: a CURVE key pair, NAME.key (public) and "
     "NAME.key_secret (mode 0600); refuses to overwrite", even::ctl::cmd_keygen},
    {"group", "group create NAME --stream S|--category C|--type T|--all [--max-retries N] [--ack-timeout-ms MS] "
     "[--max-in-flight N] [--ordering per-stream|unordered] [--start-from N] | list [--json] | delete NAME | "
     "replay-parked NAME: persistent subscription groups (even-groups)", even::ctl::cmd_group},
};

int evenctl_main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::cout << "evenctl: command line for an Even event store.\n"
                 "Usage: evenctl COMMAND [ARGS] [--config FILE] [options]   (evenctl COMMAND --help for options)\n\n";
    for (const auto& c : kCommands) std::cout << "  " << c.name << "\n      " << c.summary << "\n";
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : kCommands)
    if (c.name == std::string(argv[1])) return c.run(argc - 1, argv + 1);
  throw even::config::po::error(std::string("unknown command '") + argv[1] + "'");
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("evenctl", evenctl_main, argc, argv); }
