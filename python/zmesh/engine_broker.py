"""The engine's broker client (protocol.md 5.7): one Broker per broker of the list, each
with its own registration and renewal, epoch and Event sequence (numbered; a jump means a
full listing of that broker) and view of the membership; the membership is the union of
the views, one record per peer id. Lookups go to one broker, follow its pages, and move on
to the next when a broker cannot take them or does not answer in its share of the
deadline; with no broker connected they wait for one. Lookup-only (no Register): Pings
and a periodic listing instead. A mixin of Engine: it runs on the engine thread only."""
from __future__ import annotations

import heapq

import zmq

from . import codec, errors
from .codec import EC
from .engine_util import LookupOp, _fail, _member, _now, _ok, _rng

_RETRY = 0.1          # a Register or Lookup no broker could take is tried again this soon
_MIN_SHARE, _MAX_SHARE = 0.1, 2.0  # one broker's share of a lookup's time left
_PING = 1.0           # lookup-only: how often each broker is pinged


def _same(a, b) -> bool:
    """The same record (the age a listing states aside)."""
    return a is not None and b is not None and (
        a.id, a.session, a.name, a.endpoints, a.pub_endpoints, a.services) == (
        b.id, b.session, b.name, b.endpoints, b.pub_endpoints, b.services)


class BrokerClient:
    # -- broker --------------------------------------------------------------------------
    def _bsend(self, kind, payload=b"", corr=0, b=None) -> bool:
        """Best effort: False when the broker cannot take it now (not connected: the
        socket is ZMQ_IMMEDIATE, nothing queues for a broker that is not there)."""
        b = b or self.broker
        try:
            b.sock.send_multipart([self.hdr(kind, corr), payload], zmq.NOBLOCK)
            return True
        except zmq.ZMQError:
            self.stats["broker_send_failed"] += 1
            return False

    def _broker_key(self, i) -> str:
        """CURVE: the public key of broker i: one key for all, or a comma-separated list
        matched to the brokers in order (the C++ PeerOptions::broker_key)."""
        keys = [k.strip() for k in (getattr(self.p, "broker_key", "") or "").split(",")]
        keys = [k for k in keys if k]
        if not keys:
            return ""
        return keys[0] if len(keys) == 1 else keys[i] if i < len(keys) else ""

    def _register(self, b=None):
        b = b or self.broker
        if not b.register_self:
            return
        # the Ack of an earlier Register still counts (several Events of a new broker run
        # each ask for one): keep the last few, oldest forgotten first
        for k in [k for k, v in b.ops.items() if v == ("register",)][:-7]:
            del b.ops[k]
        b.register_corr = next(self.corr)
        b.ops[b.register_corr] = ("register",)
        sent = self._bsend(codec.REGISTER,
                           codec.encode_register(self.info(), int(self.p.ttl * 1000)),
                           b.register_corr, b)
        if not sent:
            del b.ops[b.register_corr]
        # resend if unanswered; at once-ish when the broker could not take it at all
        b.next_renew = _now() + (max(b.renew_ms, 1000) / 1000.0 if sent else _RETRY)

    def _lookup(self, name, service, timeout, done, pin=None):
        """Asks a broker (`pin`: that one), following every page; done(members, exc)."""
        if not self.brokers:
            return done(None, errors.UnknownPeer("no broker"))
        op = LookupOp(name, service, done, _now() + timeout, pin)
        op.i = self.brokers.index(pin) if pin else self._preferred()
        self._ask(op)
        return op

    def _preferred(self) -> int:
        """Live first, then one that has not just (re)started, then the one heard from last."""
        now = _now()
        rank = [(b.live(now), not b.young(now), b.last_heard) for b in self.brokers]
        return max(range(len(rank)), key=lambda i: rank[i])

    def _ask(self, op):
        """Sends op's Lookup to the first broker from op.i on that takes it."""
        now, n = _now(), len(self.brokers)
        for k in range(1 if op.pin else n):
            i = (op.i + k) % n
            if op.after and i != op.pages_from:
                op.after, op.acc = 0, []  # pages come from one broker: start again here
            b = self.brokers[i]
            corr = next(self.corr)
            if not self._bsend(codec.LOOKUP, codec.encode_lookup(op.name, op.service, op.after),
                               corr, b):
                continue
            op.i, op.resend_at, op.move_on_at = i, float("inf"), float("inf")
            if n > 1 and not op.pin:  # one broker of several gets its share of what is left
                op.move_on_at = now + min(max((op.deadline - now) / n, _MIN_SHARE), _MAX_SHARE)
            b.ops[corr] = op
            return
        op.resend_at = now + _RETRY  # no broker connected yet: ask again shortly
        self.lookups_waiting.append(op)

    def cmd_lookup(self, name, service, timeout, fut):
        self._lookup(name, service, timeout,
                     lambda ms, exc: _fail(fut, exc) if exc else _ok(fut, ms))

    def cmd_members(self, fut):
        _ok(fut, sorted(self.members.values(), key=lambda m: m.name))

    def cmd_brokers(self, fut):
        now = _now()
        _ok(fut, [dict(endpoint=b.endpoint, registered=b.registered, error=b.error,
                       epoch=b.epoch, last_event=b.last_seq, live=b.live(now),
                       listed=b.listed, members=sorted(b.view), events=b.events,
                       resyncs=b.resyncs, register=b.register_self)
                  for b in self.brokers])

    def _resync(self, b=None):
        """Takes a full listing of one broker and replaces its view with it (5.7)."""
        b = b or self.broker
        b.resyncs += 1
        b.refresh_at = float("inf")

        def got(ms, exc):
            if b.listing is not op:
                return  # a listing started since replaces this one
            b.listing = None
            if exc:
                if not self.stopping:
                    b.refresh_at = _now() + _RETRY
                return
            self._listed(b, ms)
        op = b.listing = self._lookup("", "", b.window(), got, pin=b)

    def _listed(self, b, ms):
        now = _now()
        new = {m.id: m for m in ms if m.id != self.p.id}
        if not b.register_self and self.p.membership_refresh > 0:
            b.refresh_at = now + self.p.membership_refresh
        wait = max(0.0, (b.warm_up_ms() - self._uptime_ms(b, now)) / 1000.0)
        if wait > 0:  # rule 39: a young broker's listing lacks who has not renewed yet
            b.refresh_at = min(b.refresh_at, now + wait + 0.05)
        else:
            for mid in [mid for mid in b.view if mid not in new]:
                self._view_gone(b, mid)
        for m in new.values():
            self._view_set(b, m)
        b.listed = True

    def _uptime_ms(self, b, now) -> float:
        return (now - b.started) * 1000.0 if b.started is not None else float("inf")

    def _after(self, delay, fn):
        heapq.heappush(self.later, (_now() + delay, next(self.tie), fn))

    def _warmup_left(self) -> float:
        """Seconds until the broker that gave the last answer is older than its warm-up
        (the TTL and two renew intervals; lookup-only: its warm_up_ms) (5.7); 0 when it is
        not young."""
        b = self.last_answer_broker
        if not b or b.started is None:
            return 0.0
        return max(0.0, (b.warm_up_ms() - self._uptime_ms(b, _now())) / 1000.0)

    # -- the membership: per-broker views, their union -----------------------------------
    def _view_set(self, b, m):
        b.view[m.id] = m
        if not _same(self.members.get(m.id), m):  # the newest news wins
            self._member_set(m)

    def _view_gone(self, b, mid):
        if b.view.pop(mid, None) is None:
            return
        others = [x.view[mid] for x in self.brokers if mid in x.view]
        if not others:
            return self._member_gone(mid)
        if not any(_same(self.members.get(mid), o) for o in others):
            self._member_set(others[-1])  # still in another broker's view: keep its record

    def _member_set(self, m):
        old = self.members.get(m.id)
        if old:
            for ep in old.pub_endpoints:
                if ep not in m.pub_endpoints:
                    self._unfollow(ep, ("member", m.id))
        self.members[m.id] = m
        for ep in m.pub_endpoints:
            self._follow(ep, ("member", m.id))

    def _member_gone(self, mid):
        m = self.members.pop(mid, None)
        if m:
            for ep in m.pub_endpoints:
                self._unfollow(ep, ("member", mid))

    def _forget_view(self, b):
        b.listed = False
        for mid in list(b.view):
            self._view_gone(b, mid)

    # -- timers ---------------------------------------------------------------------------
    def _broker_timers(self, now):
        for b in self.brokers:
            if b.register_self:
                if b.registered and now - b.last_ack > 3 * b.renew_ms / 1000.0:
                    b.registered = False  # the broker is gone: register again until one answers
                if now >= b.next_renew and not self.stopping:
                    if b.registered:
                        corr = next(self.corr)
                        b.ops[corr] = ("renew",)
                        self._bsend(codec.RENEW, b"", corr, b)
                        b.next_renew = now + b.renew_ms / 1000.0
                    else:
                        self._register(b)
            elif now >= b.next_ping and not self.stopping:
                self._bsend(codec.PING, codec.encode_ping(_rng.getrandbits(64) | 1,
                                                          int(now * 1e6)), next(self.corr), b)
                b.next_ping = now + _PING
                if self.p.membership_refresh > 0 and not b.listed and b.listing is None \
                        and b.refresh_at == float("inf"):
                    self._resync(b)
            if (b.registered or not b.register_self) and now >= b.refresh_at \
                    and b.listing is None and not self.stopping:
                self._resync(b)
            for corr, op in list(b.ops.items()):
                if not isinstance(op, LookupOp):
                    continue
                if now > op.deadline:
                    del b.ops[corr]
                    op.done(None, errors.Timeout(self._timeout_text()))
                elif now >= op.move_on_at:  # it took the Lookup but does not answer
                    del b.ops[corr]
                    op.i = (op.i + 1) % len(self.brokers)
                    self._ask(op)
        if self.lookups_waiting:
            waiting, self.lookups_waiting = self.lookups_waiting, []
            for op in waiting:
                if now > op.deadline:
                    op.done(None, errors.Timeout(self._timeout_text()))
                elif now >= op.resend_at:
                    self._ask(op)
                else:
                    self.lookups_waiting.append(op)
        # A broker silent for longer than a registration lives knows nothing we can rely
        # on; forget its view while another broker speaks (with none, the last view is
        # better than none).
        if len(self.brokers) > 1 and any(b.live(now) for b in self.brokers):
            for b in self.brokers:
                if b.view and b.stale(now):
                    self._forget_view(b)

    def _timeout_text(self):
        if len(self.brokers) == 1:
            return "the broker did not answer the lookup"
        return "none of the brokers (" + ", ".join(b.endpoint for b in self.brokers) + \
            ") answered the lookup in time"

    # -- input ----------------------------------------------------------------------------
    def _on_broker(self, b, frames):
        why = codec.check_sizes("dealer", frames, self.p.limits)
        if why:
            return self._drop(why)
        h, why = codec.decode_header(frames[0], self.p.limits)
        if why:
            return self._drop(why)
        payload = frames[1]
        b.last_heard = _now()
        if h.kind == codec.EVENT:
            return self._on_event(b, payload)
        if h.kind == codec.PONG:
            return
        if h.kind == codec.BYE:  # the broker is stopping: register again later
            b.registered = False
            b.next_renew = _now() + _RETRY
            return
        op = b.ops.pop(h.correlation_id, None)
        if op is None:
            self.stats["unmatched"] += 1
            return
        if isinstance(op, LookupOp):
            if h.kind == codec.PEER_LIST:
                lst, why = codec.decode_peer_list(payload, self.p.limits)
                if why:
                    return op.done(None, errors.Malformed(f"bad PeerList ({why})"))
                b.started = b.last_heard - lst.uptime_ms / 1000.0
                if lst.warm_up_ms:
                    b.told_warm_ms = lst.warm_up_ms
                op.acc += [_member(i, age) for i, age in lst.peers]
                if lst.next:
                    if lst.next <= op.after:
                        return op.done(None, errors.Malformed(
                            f"the broker at {b.endpoint} sent a listing that does not end"))
                    op.after, op.pages_from = lst.next, op.i
                    return self._ask(op)
                return self._lookup_answered(op, b, lst.uptime_ms)
            ct, why = codec.decode_code_text(payload, h.kind == codec.REJECT, self.p.limits)
            code = ct[0] if ct else EC["Malformed"]
            return op.done(None, errors.make(errors.errc_of_error_code(code),
                                             f"broker refused the lookup: {ct and ct[1]}", code))
        if h.kind == codec.REGISTER_ACK:
            ack, why = codec.decode_register_ack(payload, self.p.limits)
            if why:
                return self._drop(why)
            b.last_ack = _now()
            if op == ("register",):
                for k in [k for k, v in b.ops.items() if v == ("register",)]:
                    del b.ops[k]  # answered: the others' Acks change nothing more
            first = op == ("register",) or ack.epoch != b.epoch or not b.registered
            lost = ack.event_sequence > b.last_seq
            b.registered, b.error = True, ""
            b.renew_ms, b.ttl_ms = max(ack.renew_interval_ms, 10), ack.ttl_ms
            b.next_renew = _now() + b.renew_ms / 1000.0
            if first:
                b.epoch = ack.epoch
                b.last_seq = ack.event_sequence
                self._resync(b)  # a full listing after every registration
            elif lost:
                b.last_seq = ack.event_sequence
                self._resync(b)
            return
        if h.kind in (codec.REJECT, codec.ERROR):
            ct, why = codec.decode_code_text(payload, h.kind == codec.REJECT, self.p.limits)
            code, text = ct if ct else (EC["Malformed"], why)
            if op == ("renew",) and code == EC["UnknownPeer"]:
                b.registered = False
                return self._register(b)  # the broker restarted or forgot us
            if op == ("renew",):
                return  # DuplicateId: the registration lives on another connection; keep renewing
            b.registered = False
            e = errors.errc_of_error_code(code)
            b.error = f"{e.name}: {text}"
            self.stats["registrations_refused"] += 1
            b.next_renew = _now() + max(b.renew_ms, 1000) / 1000.0  # retry once per interval
            return
        self._drop("unexpected_kind")

    def _lookup_answered(self, op, b, uptime_ms):
        """A query's whole answer (every page) arrived from broker b."""
        if op.pin is None and uptime_ms < b.warm_up_ms() and \
                op.young_skips + 1 < len(self.brokers):
            # a broker that has just started may not know every live peer yet: while
            # another might, ask that one instead (5.7)
            op.young_skips += 1
            op.acc, op.after = [], 0
            op.i = (op.i + 1) % len(self.brokers)
            return self._ask(op)
        if op.pin is None:
            self.last_answer_broker = b
            self.last_uptime_ms = uptime_ms
        op.done(op.acc, None)

    def _on_event(self, b, payload):
        if not b.register_self:
            return  # not ours: we are not registered
        ev, why = codec.decode_event(payload, self.p.limits)
        if why:
            return self._drop(why)
        b.events += 1
        if ev.epoch != b.epoch:
            # a broker run we are not registered with (rule 51): change nothing, register
            self.stats["events_other_epoch"] += 1
            b.registered = False
            return self._register(b)
        if ev.sequence <= b.last_seq:
            self.stats["events_duplicate"] += 1
            return
        if ev.sequence > b.last_seq + 1:
            self.stats["events_lost"] += ev.sequence - b.last_seq - 1
            b.last_seq = ev.sequence
            return self._resync(b)
        b.last_seq = ev.sequence
        for t, info, _reason in ev.changes:
            if info.id == self.p.id:
                continue
            if t in (1, 3):
                self._view_set(b, _member(info))
            elif t == 2:
                m = b.view.get(info.id)
                if m and m.session == info.session:
                    self._view_gone(b, info.id)
