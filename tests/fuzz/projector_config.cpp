// Fuzz target: the projector's JSON file (--projections FILE) as even-projector reads it at start
// (parse_projector_config: JSON with comments, projections and projection streams, each SQL
// statement's :parameters). A bad file is reported as a std::exception naming what is wrong;
// anything else (a crash, a hang, another exception) is a finding. No store.
#include <exception>
#include <string>

#include "fuzz_frame.h"
#include "projector/projector_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto config = even::projector::parse_projector_config(text, "fuzz.json");
    (void)(config.projections.size() + config.projection_streams.size());
  } catch (const std::exception&) {
    // the error the projector prints before it exits
  }
  return 0;
}
