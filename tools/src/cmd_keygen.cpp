// zmesh keygen: a CURVE key pair in two certificate files (zmesh/core/keys.hpp).
#include <string>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "output.hpp"
#include "zmesh/core/errors.hpp"
#include "zmesh/core/keys.hpp"

namespace zmesh::cli {

CommandLine describe_keygen() {
  CommandLine c;
  c.name = "keygen";
  c.summary = "make a CURVE key pair: NAME.key (public) and NAME.key_secret";
  c.synopsis = "zmesh keygen <name> [--dir DIR]";
  c.description =
      "Writes DIR/NAME.key, the public certificate (mode 0644: give it to the peers and\n"
      "brokers that are to trust this key), and DIR/NAME.key_secret, both keys (mode 0600:\n"
      "keep it; a secret file that group or others can read is refused when loaded). The\n"
      "layout is CZMQ's zcert (ZPL text, Z85 keys; docs/security.md). Existing files are\n"
      "never overwritten. Prints the two paths and the public key.\n";
  c.examples =
      "  zmesh keygen pricing --dir /etc/zmesh/keys\n"
      "  zmesh keygen alice --format json\n";
  c.options.add_options()("dir", po::value<std::string>()->default_value(".")->value_name("DIR"),
                          "where to write the two files");
  c.arg_names = {"<name>"};
  c.min_args = 1;
  c.max_args = 1;
  return c;
}

int run_keygen(const Parsed& p) {
  const std::string& name = p.args[0];
  if (name.empty() || name.find('/') != std::string::npos || name.size() > 128) {
    throw UsageError("<name> must be 1..128 bytes without '/' (got '" + name + "')");
  }
  const std::string path = p.vm["dir"].as<std::string>() + "/" + name + ".key";
  Output out(p.common.format, p.common.quiet);
  Certificate cert;
  try {
    cert = generate_certificate(name);
    save_certificate(cert, path);
  } catch (const Error& e) {
    throw Failure(kExitFailure, e.what());
  }
  if (out.json()) {
    out.object({{"name", name},
                {"public_key", cert.public_key},
                {"public_file", path},
                {"secret_file", path + "_secret"}});
  } else {
    out.line(path + "         public certificate");
    out.line(path + "_secret  secret certificate (mode 0600)");
    out.line("public key: " + cert.public_key);
  }
  return kExitOk;
}

}  // namespace zmesh::cli
