// zmesh/core/trust_store.hpp — the client keys a CURVE server accepts: a list given in the
// options plus the public certificates of a directory, read again on reload(). Owned by
// the thread that answers ZAP requests (zap_handler.hpp); not thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_set>
#include <vector>

#include "zmesh/core/curve.hpp"

namespace zmesh {

class TrustStore {
 public:
  /// Reads trust_dir; throws Error(invalid_argument) when it cannot be read.
  explicit TrustStore(const CurveOptions& options);

  /// Reads trust_dir again. On failure the keys held so far stay and the error is thrown
  /// (a reload that fails never opens the door nor locks everyone out).
  void reload();
  /// Replaces the listed keys (not those from the directory).
  void set_listed(std::vector<std::string> keys);

  [[nodiscard]] bool trusts(const std::string& public_key) const;
  [[nodiscard]] bool trust_any() const noexcept { return trust_any_; }
  /// Distinct keys trusted now.
  [[nodiscard]] std::size_t size() const noexcept { return keys_.size(); }
  /// Files of trust_dir skipped at the last (re)load, with why.
  [[nodiscard]] const std::vector<std::string>& skipped() const noexcept { return skipped_; }

 private:
  void rebuild();

  std::string dir_;
  bool trust_any_;
  std::vector<std::string> listed_;
  std::vector<std::string> from_dir_;
  std::unordered_set<std::string> keys_;
  std::vector<std::string> skipped_;
};

}  // namespace zmesh
