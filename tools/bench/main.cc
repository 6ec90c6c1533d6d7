// even-bench: benchmarks of Even against raw MariaDB, measured in the same run.
#include <cstring>
#include <iostream>

#include "bench/bench.h"

namespace {

const even::bench::Case kCases[] = {
    {"append", "append --mode buffered|serial --clients N --seconds S [--events-per-append K] [--payload-bytes B]",
     even::bench::bench_append},
    {"commands", "commands --clients N --seconds S: command handling (AggregateStore) on distinct aggregates vs serial appends",
     even::bench::bench_commands},
    {"latency", "latency --rate R --seconds S: append-to-subscriber delivery latency through writer and dispatcher",
     even::bench::bench_latency},
    {"project", "project --events N [--batch B] [--accounts A]: rebuild of a one-upsert-per-event SQL projection "
     "through the projector vs the same upserts sent directly in batches", even::bench::bench_project},
    {"read", "read --events N [--payload-bytes B] [--workers W]: read-all catch-up through even-reader vs a raw SELECT",
     even::bench::bench_read},
    {"group", "group [--consumers 1,4,16] [--streams 1,100] [--events E] [--kill-one]: a persistent subscription "
     "group's throughput with consumer processes (one SIGKILLed mid-run) vs a raw SELECT of the same events",
     even::bench::bench_group},
    {"scale", "scale --sizes 0,1000000,10000000 [--seconds S]: every case again as the store grows (bulk-loaded), "
     "JSON lines per size and case, PNG charts", even::bench::bench_scale},
};

int bench_main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::cout << "even-bench: benchmarks, each printing JSON lines with a ratio to a raw MariaDB baseline.\n"
                 "Usage: even-bench CASE [options]   (even-bench CASE --help for options)\n\n";
    for (const auto& c : kCases) std::cout << "  " << c.name << "\n      " << c.summary << "\n";
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : kCases)
    if (c.name == std::string(argv[1])) return c.run(argc - 1, argv + 1);
  throw even::config::po::error(std::string("unknown case '") + argv[1] + "'");
}

}  // namespace

int main(int argc, char** argv) { return even::config::run_main("even-bench", bench_main, argc, argv); }
