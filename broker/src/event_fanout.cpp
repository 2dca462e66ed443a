#include "event_fanout.hpp"

#include <algorithm>
#include <utility>

#include "event_batch.hpp"

namespace zmesh::detail {

void EventFanout::announce(EventType type, PeerInfo subject, std::string reason) {
  pending_.push_back(Change{type, std::move(subject), std::move(reason)});
  ctx_.counters.count([](BrokerStats& s) { ++s.changes; });
}

void EventFanout::flush(SteadyClock::time_point now, const Membership& members, ClientSender& out) {
  const BrokerOptions& options = ctx_.options;
  const bool warming = now - ctx_.started < options.ttl;
  next_flush_ = now + (warming ? std::max(kBrokerTick, options.renew_interval) : kBrokerTick);
  const std::size_t max_changes =
      std::min(kEventPages * options.page_records, options.limits.max_peer_records);
  const std::size_t max_bytes = std::min(kEventPages * options.page_bytes, kMaxEventBytes);
  if (pending_.empty()) return;
  std::uint64_t sent = 0;
  std::uint64_t dropped = 0;
  batch_events(pending_, ctx_.epoch, sequence_, max_changes, max_bytes, [&](const Event& e) {
    zmq::message_t payload = encode(e);
    zmq::message_t head = out.header(Kind::event, 0);
    members.for_each_identity([&](const std::string& identity) {
      zmq::message_t h;
      zmq::message_t copy;
      h.copy(head);
      copy.copy(payload);  // shares the buffer (zmq_msg_copy counts references)
      switch (out.send(identity, std::move(h), std::move(copy))) {
        case Sent::ok: ++sent; break;
        case Sent::full: ++dropped; break;
        case Sent::gone: break;
      }
    });
  });
  ctx_.counters.count([&](BrokerStats& s) {
    s.events_sent += sent;
    s.slow_consumer += dropped;
  });
}

}  // namespace zmesh::detail
