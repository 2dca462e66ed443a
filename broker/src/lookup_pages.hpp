// LookupPages — the broker's answer to a Lookup (protocol.md 5.7): one PeerList page of
// the registrations matching a name and/or a service, after a cursor, from the narrowest
// index of the Membership. Broker thread only.
#pragma once

#include <string>

#include <zmq.hpp>

#include "broker_context.hpp"
#include "client_sender.hpp"
#include "membership.hpp"
#include "zmesh/core/control.hpp"
#include "zmesh/core/envelope_codec.hpp"

namespace zmesh::detail {

class LookupPages {
 public:
  LookupPages(BrokerContext& ctx, ClientSender& out) : ctx_(ctx), out_(out) {}

  /// Answers the Lookup in `env` from `identity` with a page of `members` (at most its
  /// limit, page_records and about page_bytes), or with an Error when it is refused or
  /// does not decode. `header_frame` is the frame its header came in (CURVE: its key).
  void on_lookup(const std::string& identity, const Envelope& env,
                 const zmq::message_t& header_frame, const Membership& members);

 private:
  BrokerContext& ctx_;
  ClientSender& out_;
  PeerListWriter writer_;  // one buffer for every PeerList page
};

}  // namespace zmesh::detail
