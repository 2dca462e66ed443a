// Acl — which public keys may register which names and services in a CURVE mesh, read
// from an ACL file (docs/security.md, "The broker's ACL"). One rule a line:
//
//   # comment
//   <Z85 public key | *>  name:<glob> ...  service:<glob> ...   # trailing comment
//
// Globs are fnmatch(3) patterns. A key may register a name (a service) when a line for it
// or for "*" has a name: (service:) glob that matches. Lines for one key add up. Pure
// value: parsed once, then only read (broker thread); a reload parses a new one.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace zmesh::detail {

class Acl {
 public:
  /// Parses ACL text. `origin` names it in errors ("ACL file '/etc/zmesh/acl'"). Throws
  /// Error(invalid_argument) naming the line and what is wrong with it.
  [[nodiscard]] static Acl parse(std::string_view text, const std::string& origin);
  /// Reads and parses a file (at most 1 MiB). Throws Error(invalid_argument).
  [[nodiscard]] static Acl load(const std::string& path);

  /// Whether `key` (Z85) may register the name `name`.
  [[nodiscard]] bool allows_name(const std::string& key, const std::string& name) const;
  /// Whether `key` (Z85) may offer the service `service`.
  [[nodiscard]] bool allows_service(const std::string& key, const std::string& service) const;
  /// Rules (non-comment lines) read.
  [[nodiscard]] std::size_t size() const noexcept { return rules_.size(); }

 private:
  struct Rule {
    std::string key;  // Z85, or "*" for every key
    std::vector<std::string> names;
    std::vector<std::string> services;
  };
  static bool matches(const std::vector<std::string>& globs, const std::string& value);
  [[nodiscard]] bool allows(const std::string& key, const std::string& value,
                            std::vector<std::string> Rule::*globs) const;

  std::vector<Rule> rules_;
};

}  // namespace zmesh::detail
