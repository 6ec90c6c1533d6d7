#include <iostream>

#include "even/common/store/schema.h"
#include "evenctl/commands.h"

namespace even::ctl {

int cmd_store(int argc, char** argv) {
  namespace po = config::po;
  config::DbOptions db;
  std::vector<std::string> words;
  po::options_description desc("evenctl store options");
  desc.add_options()("what", po::value(&words)->multitoken(), "init or status");
  config::add_db_options(desc, db);
  po::positional_options_description pos;
  pos.add("what", -1);
  auto vm = config::parse(argc, argv, desc, "Usage: evenctl store init|status [--config FILE] [--db-...]", &pos);
  if (!vm) return 0;
  if (words.size() != 1) throw po::error("usage: evenctl store init|status");
  if (words[0] == "init") {
    auto r = store::init_store(db);
    std::cout << "{\"database\":\"" << db.name << "\",\"schema_version\":" << r.to_version
              << ",\"previous_version\":" << r.from_version << "}\n";
    return 0;
  }
  if (words[0] == "status") {
    std::cout << "{\"database\":\"" << db.name << "\",\"schema_version\":" << store::schema_version(db)
              << ",\"latest\":" << store::latest_schema_version() << "}\n";
    return 0;
  }
  throw po::error("unknown store command '" + words[0] + "'");
}

}  // namespace even::ctl
