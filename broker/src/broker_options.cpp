#include <string>

#include "zmesh/broker/broker.hpp"
#include "zmesh/core/errors.hpp"

namespace zmesh {

void BrokerOptions::validate() const {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw Error(errc::invalid_argument, "invalid broker options: " + what);
  };
  require(!bind.empty(), "bind must not be empty");
  require(ttl.count() >= 100, "ttl must be at least 100 ms");
  require(renew_interval.count() >= 10, "renew_interval must be at least 10 ms");
  require(renew_interval * 2 <= ttl, "renew_interval must be at most half the ttl");
  require(max_peers >= 1, "max_peers must be at least 1");
  limits.validate();
  require(max_services >= 1 && max_services <= limits.max_list_items,
          "max_services must be between 1 and limits.max_list_items (" +
              std::to_string(limits.max_list_items) + ")");
  require(max_peer_bytes >= 256, "max_peer_bytes must be at least 256");
  require(page_records >= 1 && page_records <= limits.max_peer_records,
          "page_records must be between 1 and limits.max_peer_records (" +
              std::to_string(limits.max_peer_records) + ")");
  // One record of the largest registration must fit in a page, and a page in a frame.
  require(page_bytes >= 2 * max_peer_bytes + 1024,
          "page_bytes must be at least 2 x max_peer_bytes + 1024 (" +
              std::to_string(2 * max_peer_bytes + 1024) + ")");
  // What we send must fit what peers accept (16 MiB by default), with room to spare.
  require(page_bytes <= std::size_t{8} << 20, "page_bytes must be at most 8 MiB");
  require(send_queue >= 1, "send_queue must be at least 1");
  require(acl_file.empty() || curve.enabled(),
          "acl_file needs CURVE (curve.secret_key): an ACL grants names to keys");
}

}  // namespace zmesh
