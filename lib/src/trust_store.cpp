#include "zmesh/core/trust_store.hpp"

#include "zmesh/core/keys.hpp"

namespace zmesh {

TrustStore::TrustStore(const CurveOptions& options)
    : dir_(options.trust_dir), trust_any_(options.trust_any), listed_(options.trusted_keys) {
  reload();
}

void TrustStore::reload() {
  std::vector<std::string> keys;
  std::vector<std::string> skipped;
  if (!dir_.empty()) {
    // Throws before anything changes: a failed reload keeps the keys held so far.
    const auto certs = load_trusted_certificates(dir_, &skipped);
    keys.reserve(certs.size());
    for (const auto& c : certs) keys.push_back(c.public_key);
  }
  from_dir_ = std::move(keys);
  skipped_ = std::move(skipped);
  rebuild();
}

void TrustStore::set_listed(std::vector<std::string> keys) {
  listed_ = std::move(keys);
  rebuild();
}

bool TrustStore::trusts(const std::string& public_key) const {
  return trust_any_ || keys_.count(public_key) != 0;
}

void TrustStore::rebuild() {
  keys_.clear();
  keys_.insert(listed_.begin(), listed_.end());
  keys_.insert(from_dir_.begin(), from_dir_.end());
}

}  // namespace zmesh
