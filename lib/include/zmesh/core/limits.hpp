// zmesh/core/limits.hpp — size limits applied to every received frame before anything
// else reads it. A value type: copy it into whatever decodes; later changes to the
// original do nothing there.
#pragma once

#include <cstddef>

#include "zmesh/core/export.hpp"

namespace ZMESH_API zmesh {

/// Largest Limits::max_payload_bytes: control messages travel as payloads, and the
/// FlatBuffers verifier cannot check a buffer of 2 GiB or more.
inline constexpr std::size_t kMaxPayloadBytes = (std::size_t{1} << 31) - 1;

struct Limits {
  std::size_t max_header_bytes = 1024;       ///< header frame (FlatBuffers Header)
  std::size_t max_payload_bytes = 16 << 20;  ///< payload frame (16 MiB), application or control
  std::size_t max_topic_bytes = 256;         ///< PUB/SUB topic frame
  std::size_t max_type_bytes = 128;          ///< Header.type string
  std::size_t max_identity_bytes = 255;      ///< ROUTER routing id (ZeroMQ caps it at 255)
  std::size_t max_string_bytes = 1024;       ///< any string in a control payload
  std::size_t max_list_items = 64;           ///< endpoints/services in a PeerInfo
  std::size_t max_peer_records = 100000;     ///< records in a broker PeerList
  unsigned max_verifier_depth = 16;          ///< FlatBuffers verifier nesting limit
  unsigned max_verifier_tables = 200000;     ///< FlatBuffers verifier table limit

  /// Throws zmesh::Error(invalid_argument) naming the first bad field.
  void validate() const;
};

}  // namespace zmesh
