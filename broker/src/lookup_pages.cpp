#include "lookup_pages.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "zmesh/core/clock.hpp"

namespace zmesh::detail {

using std::chrono::milliseconds;

void LookupPages::on_lookup(const std::string& identity, const Envelope& env,
                            const zmq::message_t& header_frame, const Membership& members) {
  const BrokerOptions& options = ctx_.options;
  const auto corr = env.header.correlation_id;
  if (ctx_.security) {
    // A Lookup changes nothing: any trusted key may look, whatever id it gives.
    if (auto why = ctx_.security->check_claim("Lookup", 0, header_frame)) {
      out_.answer_error(identity, corr, WireError::not_allowed, *why);
      return;
    }
  }
  auto q = decode_control<Lookup>(env.payload, options.limits);
  if (!q) {
    ctx_.counters.count([](BrokerStats& s) { ++s.malformed; });
    // The rule for refused content: undecodable is Malformed, a bad value BadRequest.
    const bool bad_value = q.error() == make_error_code(DecodeError::bad_value);
    out_.answer_error(identity, corr, bad_value ? WireError::bad_request : WireError::malformed,
                      bad_value ? "bad Lookup: name is at most 128 bytes, service at most " +
                                      std::to_string(options.limits.max_string_bytes)
                                : "bad Lookup: " + q.error().message());
    return;
  }
  ctx_.counters.count([&q](BrokerStats& s) {
    ++s.lookups;
    ++(!q->name.empty()      ? s.lookups_by_name
       : !q->service.empty() ? s.lookups_by_service
                             : s.lookups_all);
  });
  const auto now = SteadyClock::now();
  // One page: at most `limit` records and about page_bytes, from the narrowest index,
  // encoded into the one buffer we keep for it.
  const std::size_t limit =
      q->limit == 0 ? options.page_records : std::min<std::size_t>(q->limit, options.page_records);
  writer_.begin();
  std::uint64_t last = 0;
  bool more = false;
  members.page(q->name, q->service, q->after, [&](const Member& m) {
    if (writer_.records() >= limit ||
        (writer_.records() > 0 && writer_.bytes() + encoded_size(m.info) > options.page_bytes)) {
      more = true;
      return false;
    }
    const auto age = std::chrono::duration_cast<milliseconds>(now - m.registered_at).count();
    writer_.add(m.info, static_cast<std::uint64_t>(age));
    last = m.order;
    return true;
  });
  const auto uptime = std::chrono::duration_cast<milliseconds>(now - ctx_.started).count();
  // Live peers re-register within their TTL (at the latest) of a restart.
  const auto warm_up = std::max(2 * options.renew_interval, options.ttl).count();
  ctx_.counters.count([](BrokerStats& s) { ++s.lookup_pages; });
  out_.answer(identity, out_.header(Kind::peer_list, corr),
              writer_.finish(ctx_.epoch, static_cast<std::uint64_t>(uptime), more ? last : 0,
                             static_cast<std::uint32_t>(warm_up)));
}

}  // namespace zmesh::detail
