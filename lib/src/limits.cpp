#include "zmesh/core/limits.hpp"

#include "zmesh/core/errors.hpp"

namespace zmesh {

void Limits::validate() const {
  auto require = [](bool ok, const char* what) {
    if (!ok) throw Error(errc::invalid_argument, std::string("invalid limits: ") + what);
  };
  // A v1 header with a full-length type needs about 200 bytes; below 64 nothing fits.
  require(max_header_bytes >= 64, "max_header_bytes must be at least 64");
  require(max_header_bytes <= std::size_t{64} * 1024, "max_header_bytes must be at most 65536");
  require(max_payload_bytes >= 1, "max_payload_bytes must be at least 1");
  require(max_payload_bytes <= kMaxPayloadBytes,
          "max_payload_bytes must be at most 2147483647 (2 GiB - 1)");
  require(max_type_bytes >= 1, "max_type_bytes must be at least 1");
  require(max_type_bytes < max_header_bytes, "max_type_bytes must be below max_header_bytes");
  require(max_topic_bytes >= 1, "max_topic_bytes must be at least 1");
  require(max_identity_bytes >= 1 && max_identity_bytes <= 255,
          "max_identity_bytes must be in 1..255");
  require(max_string_bytes >= 16, "max_string_bytes must be at least 16");
  require(max_list_items >= 1, "max_list_items must be at least 1");
  require(max_verifier_depth >= 4, "max_verifier_depth must be at least 4");
  require(max_verifier_tables >= 16, "max_verifier_tables must be at least 16");
}

}  // namespace zmesh
