#include "zmesh/version.hpp"

namespace zmesh {

// Compiled into the library, so that an application reads the version it runs with, not
// the one in the header it was compiled against.
const char* version() noexcept {
  return ZMESH_VERSION_STRING;
}

int protocol_version() noexcept {
  return kProtocolVersion;
}

}  // namespace zmesh
