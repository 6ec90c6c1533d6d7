// evenctl keygen NAME: a CURVE key pair as zcert files (even/common/curve.h), NAME.key (public,
// for the servers' allow-keys-dir or for the clients of a server) and NAME.key_secret (0600).
#include <filesystem>
#include <iostream>

#include "evenctl/commands.h"
#include "even/common/curve.h"

namespace even::ctl {

int cmd_keygen(int argc, char** argv) {
  namespace po = config::po;
  std::vector<std::string> words;
  std::string dir = ".", roles;
  po::options_description desc("evenctl keygen options");
  desc.add_options()
      ("name", po::value(&words)->multitoken(), "the key's name: the files are NAME.key and NAME.key_secret")
      ("dir", po::value(&dir)->default_value(dir), "the folder to write them to (created if missing)")
      ("role", po::value(&roles)->default_value(roles),
       "what a client with this key may do, comma-separated: append (writer), read (reader), subscribe "
       "(dispatcher's feed), feed (a writer pushing to the dispatcher); written to the cert's metadata. A "
       "server's own key needs none");
  po::positional_options_description pos;
  pos.add("name", -1);
  auto vm = config::parse(argc, argv, desc,
                          "Usage: evenctl keygen NAME [--dir DIR] [--role append,read,subscribe,feed]", &pos);
  if (!vm) return 0;
  if (words.size() != 1 || words[0].empty() || words[0].find('/') != std::string::npos)
    throw po::error("usage: evenctl keygen NAME [--dir DIR] [--role ...] (NAME without '/')");
  std::set<curve::Role> role_set;
  try {
    role_set = curve::parse_roles(roles);
  } catch (const std::invalid_argument& e) {
    throw po::error(std::string("--role: ") + e.what());
  }
  std::vector<std::pair<std::string, std::string>> metadata = {{"name", words[0]}};
  if (!role_set.empty()) metadata.emplace_back("role", curve::roles_text(role_set));
  std::filesystem::create_directories(dir);
  const std::string base = (std::filesystem::path(dir) / words[0]).string();
  const auto cert = curve::generate(std::move(metadata));
  curve::save_cert(cert, base + ".key", base + ".key_secret");
  std::cout << "wrote " << base << ".key (public) and " << base << ".key_secret (secret, mode 0600); public key "
            << cert.public_key << (role_set.empty() ? "" : "; roles " + curve::roles_text(role_set)) << "\n";
  return 0;
}

}  // namespace even::ctl
