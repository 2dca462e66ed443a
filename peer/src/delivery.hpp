// Running one delivered request or message through its handler: the checks before
// (sender gone, deadline passed, drain over), the call, the counting, and what goes back.
// Shared by the workers and, for inline handlers, the engine, so both behave alike.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "handler_table.hpp"
#include "peer_shared.hpp"
#include "pipeline.hpp"

namespace zmesh::detail {

/// What a delivery sends back.
struct Outcome {
  enum class What : std::uint8_t { nothing, reply, error } what = What::nothing;
  WireError code = WireError::none;  // error
  std::string body;                  // the reply, or the error text
};

/// Runs `meta` (a WorkOp::deliver) on the calling thread. `entry` is the handler found
/// for its type (null: none). Never throws: the handler's exceptions become an error.
[[nodiscard]] Outcome run_delivery(PeerShared& shared, const WorkMeta& meta, std::string_view type,
                                   std::span<const std::byte> payload,
                                   const std::shared_ptr<HandlerTable::Entry>& entry,
                                   std::string_view sender_key = {});

}  // namespace zmesh::detail
