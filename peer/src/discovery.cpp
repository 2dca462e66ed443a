#include "discovery.hpp"

#include <algorithm>
#include <tuple>

namespace zmesh::detail {
namespace {

MemberInfo member_info(const PeerInfo& p, std::uint64_t age_ms) {
  return MemberInfo{p.id, p.name, p.endpoints, p.pub_endpoints, p.services, age_ms, p.public_key};
}

/// How soon a query that no broker could take (none connected yet) is tried again.
constexpr std::chrono::milliseconds kRetry{100};
/// Bounds of the share of a query's deadline one broker gets before the next is asked.
constexpr std::chrono::milliseconds kMinShare{100};
constexpr std::chrono::milliseconds kMaxShare{2000};
/// While a young broker fills up, a name it does not know yet is asked again this often.
constexpr std::chrono::milliseconds kWarmUpRetry{500};

}  // namespace

void Discovery::Query::fail(errc code, const std::string& text) {
  auto e = error_ptr(code, text);
  if (members) members->promise.set_exception(e);
  if (connect) connect->promise.set_exception(e);
}

Discovery::Discovery(EngineContext& ctx, Events events) : ctx_(ctx), events_(std::move(events)) {}

BrokerLink::Hooks Discovery::link_hooks() {
  return BrokerLink::Hooks{
      // The newest news wins: a broker tells of a change (a new session, new
      // endpoints) before the others do.
      .seen = [this](BrokerLink&, const PeerInfo& info) { upsert(info); },
      .gone = [this](BrokerLink&, PeerId id) { gone(id); },
      .listed = [this](BrokerLink& link, std::uint64_t corr,
                       PeerList list) { on_list(link, corr, std::move(list)); },
      .failed =
          [this](BrokerLink& link, std::uint64_t corr, const std::string& text) {
            if (auto q = queries_.extract(corr)) {
              q.mapped().fail(errc::remote_error, "broker at " + link.endpoint() + ": " + text);
            }
          },
      .changed = [this] { state_changed(); },
  };
}

void Discovery::open() {
  for (std::size_t i = 0; i < ctx_.shared.brokers.size(); ++i) {
    std::string key = i < ctx_.shared.broker_keys.size() ? ctx_.shared.broker_keys[i] : "";
    links_.push_back(std::make_unique<BrokerLink>(ctx_, ctx_.shared.brokers[i], std::move(key),
                                                  ctx_.opts.register_with_brokers, link_hooks()));
    links_.back()->open();
    sockets_.push_back(&links_.back()->socket());
  }
}

void Discovery::close() noexcept {
  sockets_.clear();
  for (auto& link : links_) link->close();
}

int Discovery::read(std::size_t i) {
  return links_[i]->read();
}

int Discovery::read() {
  int n = 0;
  for (auto& link : links_) n += link->read();
  return n;
}

std::string Discovery::brokers_text() const {
  if (links_.size() == 1) return "the broker at " + links_.front()->endpoint();
  std::string out = "the brokers (";
  for (std::size_t i = 0; i < links_.size(); ++i) {
    out += (i == 0 ? "" : ", ") + links_[i]->endpoint();
  }
  return out + ")";
}

std::string Discovery::refused_by_all() const {
  std::string out;
  for (const auto& link : links_) {
    if (link->auth_error().empty()) return {};
    if (!out.empty()) out += "; ";
    out += link->auth_error();
  }
  return out;
}

void Discovery::state_changed() {
  bool registered = false;
  bool listed = false;
  std::string refusal;
  for (const auto& link : links_) {
    registered = registered || link->registered();
    listed = listed || link->listed();
    const std::string& why = link->auth_error().empty() ? link->refusal() : link->auth_error();
    if (refusal.empty() && !why.empty()) {
      refusal = links_.size() == 1 || !link->auth_error().empty()
                    ? why
                    : "broker at " + link->endpoint() + ": " + why;
    }
  }
  std::string refused_all = refused_by_all();
  {
    std::lock_guard lock(ctx_.shared.registration_mu);
    ctx_.shared.registration_error = std::move(refusal);
    ctx_.shared.broker_auth_error = std::move(refused_all);
  }
  // The reasons first: whoever sees registered() turn true sees registration_error()
  // cleared (a test saw the old reason beside registered() under ThreadSanitizer).
  ctx_.shared.registered.store(registered);
  ctx_.shared.membership_listed.store(listed);
}

void Discovery::on_timers(SteadyClock::time_point now) {
  std::vector<Query> again;
  for (auto it = queries_.begin(); it != queries_.end();) {
    Query& q = it->second;
    if (now >= q.deadline) {
      bool any_live = false;
      for (const auto& link : links_) any_live = any_live || link->live(now);
      q.fail(errc::timeout,
             (links_.size() == 1 ? brokers_text() + " did not"
                                 : "none of " + brokers_text() + " did") +
                 " answer the lookup in time" +
                 (any_live ? "" : " (none answers our registration or pings either)"));
      it = queries_.erase(it);
    } else if (now >= q.resend_at) {
      again.push_back(std::move(q));
      it = queries_.erase(it);
    } else if (now >= q.move_on_at) {
      // This broker took the Lookup but does not answer: ask the next one.
      q.link = (q.link + 1) % links_.size();
      again.push_back(std::move(q));
      it = queries_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& q : again) ask(std::move(q));
  for (auto& link : links_) link->on_timers(now);
  // A broker silent for longer than a registration lives knows nothing we can rely on;
  // forget what it said, as long as another broker speaks (with none left, the last
  // view is better than none).
  bool any_live = false;
  for (const auto& link : links_) any_live = any_live || link->live(now);
  if (any_live) {
    for (auto& link : links_) {
      if (link->stale(now) && !link->view().empty()) link->forget_view();
    }
  }
}

std::size_t Discovery::preferred_link() const {
  const auto now = SteadyClock::now();
  // Live first, then one that has not just (re)started, then the one heard from last.
  auto rank = [&](const BrokerLink& link) {
    return std::tuple(link.live(now), !link.young(now), link.last_heard());
  };
  std::size_t best = 0;
  for (std::size_t i = 1; i < links_.size(); ++i) {
    if (rank(*links_[i]) > rank(*links_[best])) best = i;
  }
  return best;
}

void Discovery::ask(Query query) {
  const auto now = SteadyClock::now();
  const std::size_t n = links_.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (query.link + k) % n;
    if (query.after != 0 && i != query.pages_from) {
      // Pages come from one broker: another one starts from the first page.
      query.after = 0;
      query.records.clear();
    }
    const std::uint64_t corr = ctx_.next_correlation();
    if (!links_[i]->send_lookup(corr, Lookup{query.name, query.service, query.after})) continue;
    query.link = i;
    query.resend_at = SteadyClock::time_point::max();
    // One broker of several gets its share of what is left before the next is asked.
    query.move_on_at = SteadyClock::time_point::max();
    if (n > 1) {
      const auto share =
          std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(query.deadline - now) /
                         static_cast<long>(n),
                     kMinShare, kMaxShare);
      query.move_on_at = now + share;
    }
    queries_[corr] = std::move(query);
    return;
  }
  // Every broker refused our handshake: say so now rather than time out.
  if (const std::string refused = refused_by_all(); !refused.empty()) {
    query.fail(errc::auth_failed, refused);
    return;
  }
  // No broker connected yet: ask again at the next tick instead of waiting for the timeout.
  query.resend_at = now + kRetry;
  query.move_on_at = SteadyClock::time_point::max();
  queries_[ctx_.next_correlation()] = std::move(query);
}

void Discovery::on_list(BrokerLink& link, std::uint64_t correlation_id, PeerList list) {
  auto q = queries_.extract(correlation_id);
  if (!q) return;  // a late answer from a broker we have moved on from, say
  Query query = std::move(q.mapped());
  for (auto& r : list.peers) query.records.push_back(std::move(r));
  if (list.next != 0) {
    // More pages: the cursor must move on, and the whole answer stay within our limit.
    if (list.next <= query.after ||
        query.records.size() > BrokerLink::kMaxListingPages * ctx_.opts.limits.max_peer_records) {
      bump(ctx_.counters().malformed);
      query.fail(errc::malformed, "the broker at " + link.endpoint() +
                                      " sent a listing that does not end (" +
                                      std::to_string(query.records.size()) + " records)");
      return;
    }
    query.after = list.next;
    query.pages_from = query.link;
    ask(std::move(query));
    return;
  }
  answer(query, correlation_id, list.uptime_ms);
}

void Discovery::answer(Query& query, std::uint64_t correlation_id, std::uint64_t uptime_ms) {
  BrokerLink& link = *links_[query.link];
  const auto uptime = std::chrono::milliseconds(uptime_ms);
  // A broker that has just started may not know every live peer yet (protocol.md 5.7):
  // while another broker might, ask that one instead.
  if (uptime < link.warm_up() && query.young_skips + 1 < links_.size()) {
    ++query.young_skips;
    query.records.clear();
    query.after = 0;
    query.link = (query.link + 1) % links_.size();
    ask(std::move(query));
    return;
  }
  if (query.members) {
    std::vector<MemberInfo> out;
    out.reserve(query.records.size());
    for (const auto& r : query.records) out.push_back(member_info(r.peer, r.age_ms));
    query.members->promise.set_value(std::move(out));
    return;
  }
  std::size_t others = 0;
  for (const auto& r : query.records) {  // registration order: the first registered wins
    if (r.peer.id == ctx_.self.id) continue;
    ++others;
    if (events_.connect(r.peer, query.connect)) return;
  }
  if (others > 0) {
    query.fail(errc::peer_unreachable, std::to_string(others) + " peer(s) named '" + query.name +
                                           "' are registered with the broker at " +
                                           link.endpoint() +
                                           " but none can be reached (no endpoint)");
    return;
  }
  // A broker that has just started learns the live peers as they renew: each one
  // within its TTL (protocol.md 5.7). Ask again a little later before saying no.
  if (uptime < link.warm_up()) {
    Query again = std::move(query);
    again.records.clear();
    again.after = 0;
    again.young_skips = 0;
    again.resend_at = SteadyClock::now() + std::min(link.warm_up() - uptime, kWarmUpRetry);
    again.move_on_at = SteadyClock::time_point::max();
    if (again.resend_at < again.deadline) {
      queries_.emplace(correlation_id, std::move(again));
      return;
    }
    again.fail(errc::unknown_peer, "no peer named '" + again.name +
                                       "' is registered yet: the broker at " + link.endpoint() +
                                       " started " + std::to_string(uptime_ms) +
                                       " ms ago and live peers re-register within " +
                                       std::to_string(link.warm_up().count()) + " ms");
    return;
  }
  query.fail(errc::unknown_peer, "no peer named '" + query.name +
                                     "' is registered with the broker at " + link.endpoint());
}

bool Discovery::connect_first(const std::string& name, std::unique_ptr<ConnectCompletion>& done) {
  std::vector<std::pair<std::uint64_t, const PeerInfo*>> named;
  for (const auto& [id, info] : members_) {
    if (info.name == name) named.emplace_back(joined_[id], &info);
  }
  std::sort(named.begin(), named.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [order, info] : named) {
    if (events_.connect(*info, done)) return true;
  }
  return false;
}

void Discovery::gone(PeerId id) {
  // Still in another broker's view: keep it, with a record that broker holds.
  const PeerInfo* other = nullptr;
  for (const auto& link : links_) {
    auto it = link->view().find(id);
    if (it == link->view().end()) continue;
    auto mine = members_.find(id);
    if (mine != members_.end() && mine->second == it->second) return;  // unchanged
    other = &it->second;
  }
  if (other != nullptr) {
    upsert(*other);
    return;
  }
  remove(id);
}

void Discovery::upsert(const PeerInfo& info) {
  if (info.id == ctx_.self.id) return;
  auto it = members_.find(info.id);
  if (it == members_.end()) {
    joined_[info.id] = next_joined_++;
    events_.joined(members_.emplace(info.id, info).first->second);
    return;
  }
  if (it->second == info) return;
  // Announce the new record before retiring the old one: an unchanged publisher keeps
  // its SUB connection.
  const PeerInfo old = std::exchange(it->second, info);
  events_.joined(it->second);
  events_.left(old);
}

void Discovery::remove(PeerId id) {
  auto it = members_.find(id);
  if (it == members_.end()) return;
  const PeerInfo old = std::move(it->second);
  members_.erase(it);
  joined_.erase(id);
  events_.left(old);
}

std::vector<MemberInfo> Discovery::members() const {
  std::vector<MemberInfo> out;
  for (const auto& [id, info] : members_) out.push_back(member_info(info, 0));
  return out;
}

void Discovery::visit(const std::function<void(const PeerInfo&)>& fn) const {
  for (const auto& [id, info] : members_) fn(info);
}

void Discovery::lookup(std::string name, std::string service, const Deadline& deadline,
                       std::unique_ptr<MembersCompletion> done) {
  if (links_.empty()) {
    done->promise.set_exception(error_ptr(errc::unknown_peer, "no broker configured"));
    return;
  }
  Query q;
  q.members = std::move(done);
  q.name = std::move(name);
  q.service = std::move(service);
  q.deadline = deadline.steady;
  q.link = preferred_link();
  ask(std::move(q));
}

void Discovery::connect_name(const std::string& name, const Deadline& deadline,
                             std::unique_ptr<ConnectCompletion> done) {
  if (connect_first(name, done)) return;
  if (links_.empty()) {
    done->promise.set_exception(error_ptr(
        errc::unknown_peer, "no peer named '" + name + "' is known (no broker is configured)"));
    return;
  }
  Query q;
  q.connect = std::move(done);
  q.name = name;
  q.deadline = deadline.steady;
  q.link = preferred_link();
  ask(std::move(q));
}

void Discovery::leave(const std::string& text) {
  for (auto& [corr, q] : queries_) q.fail(errc::shutting_down, text);
  queries_.clear();
  for (auto& link : links_) link->leave();
}

}  // namespace zmesh::detail
