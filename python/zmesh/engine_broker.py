"""The engine's broker client (protocol.md 5.7): registration and renewal, paged
lookups, the membership and its Events (numbered; a jump means a full listing), and the
young-broker rule. A mixin of Engine: it runs on the engine thread only."""
from __future__ import annotations

import heapq

import zmq

from . import codec, errors
from .codec import EC
from .engine_util import LookupOp, _fail, _member, _now, _ok


class BrokerClient:
    # -- broker --------------------------------------------------------------------------
    def _bsend(self, kind, payload=b"", corr=0):
        try:
            self.broker.sock.send_multipart([self.hdr(kind, corr), payload], zmq.NOBLOCK)
        except zmq.ZMQError:
            self.stats["broker_send_failed"] += 1

    def _register(self):
        b = self.broker
        for k in [k for k, v in b.ops.items() if v == ("register",)]:
            del b.ops[k]
        b.register_corr = next(self.corr)
        b.ops[b.register_corr] = ("register",)
        self._bsend(codec.REGISTER, codec.encode_register(self.info(), int(self.p.ttl * 1000)),
                    b.register_corr)
        b.next_renew = _now() + max(b.renew_ms, 1000) / 1000.0  # resend if unanswered

    def _lookup(self, name, service, timeout, done):
        """Asks the broker, following every page; done(members, exc)."""
        if not self.broker:
            return done(None, errors.UnknownPeer("no broker"))
        op = LookupOp(name, service, done, _now() + timeout)
        self._lookup_page(op, 0)

    def _lookup_page(self, op, after):
        corr = next(self.corr)
        self.broker.ops[corr] = op
        self._bsend(codec.LOOKUP, codec.encode_lookup(op.name, op.service, after), corr)

    def cmd_lookup(self, name, service, timeout, fut):
        self._lookup(name, service, timeout,
                     lambda ms, exc: _fail(fut, exc) if exc else _ok(fut, ms))

    def cmd_members(self, fut):
        _ok(fut, sorted(self.members.values(), key=lambda m: m.name))

    def _resync(self):
        """Takes a full listing and replaces the membership with it (5.7)."""
        self.broker.resyncs += 1

        def got(ms, exc):
            if exc:
                return
            new = {m.id: m for m in ms if m.id != self.p.id}
            wait = self._warmup_left()
            if wait > 0:  # rule 39: a young broker's listing lacks who has not renewed yet
                self._after(wait + 0.05, self._resync)
            else:
                for mid in list(self.members):
                    if mid not in new:
                        self._member_gone(mid)
            for m in new.values():
                self._member_set(m)
        self._lookup("", "", 5.0, got)

    def _after(self, delay, fn):
        heapq.heappush(self.later, (_now() + delay, next(self.tie), fn))

    def _warmup_left(self) -> float:
        """Seconds until the broker is older than the TTL and two renew intervals (5.7),
        judged by the uptime_ms of its last listing; 0 when it is not young."""
        b = self.broker
        if not b or self.last_uptime_ms is None:
            return 0.0
        warm = max(b.ttl_ms, 2 * b.renew_ms)
        return max(0.0, (warm - self.last_uptime_ms) / 1000.0)

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

    def _on_broker(self, frames):
        why = codec.check_sizes("dealer", frames, self.p.limits)
        if why:
            return self._drop(why)
        h, why = codec.decode_header(frames[0], self.p.limits)
        if why:
            return self._drop(why)
        b, payload = self.broker, frames[1]
        if h.kind == codec.EVENT:
            return self._on_event(payload)
        op = b.ops.pop(h.correlation_id, None)
        if op is None:
            self.stats["unmatched"] += 1
            return
        if isinstance(op, LookupOp):
            if h.kind == codec.PEER_LIST:
                lst, why = codec.decode_peer_list(payload, self.p.limits)
                if why:
                    return op.done(None, errors.Malformed(f"bad PeerList ({why})"))
                op.acc += [_member(i, age) for i, age in lst.peers]
                self.last_uptime_ms = lst.uptime_ms
                if lst.next:
                    return self._lookup_page(op, lst.next)
                return op.done(op.acc, None)
            ct, why = codec.decode_code_text(payload, h.kind == codec.REJECT, self.p.limits)
            code = ct[0] if ct else EC["Malformed"]
            return op.done(None, errors.make(errors.errc_of_error_code(code),
                                             f"broker refused the lookup: {ct and ct[1]}", code))
        if h.kind == codec.REGISTER_ACK:
            ack, why = codec.decode_register_ack(payload, self.p.limits)
            if why:
                return self._drop(why)
            first = op == ("register",) or ack.epoch != b.epoch
            lost = ack.event_sequence > b.last_seq
            b.registered, b.error = True, ""
            b.renew_ms, b.ttl_ms = max(ack.renew_interval_ms, 10), ack.ttl_ms
            b.next_renew = _now() + b.renew_ms / 1000.0
            if first:
                b.epoch = ack.epoch
                b.last_seq = ack.event_sequence
                self._resync()  # a full listing after every registration
            elif lost:
                b.last_seq = ack.event_sequence
                self._resync()
            return
        if h.kind in (codec.REJECT, codec.ERROR):
            ct, why = codec.decode_code_text(payload, h.kind == codec.REJECT, self.p.limits)
            code, text = ct if ct else (EC["Malformed"], why)
            if op == ("renew",) and code == EC["UnknownPeer"]:
                b.registered = False
                return self._register()  # the broker restarted or forgot us
            if op == ("renew",):
                return  # DuplicateId: the registration lives on another connection; keep renewing
            b.registered = False
            e = errors.errc_of_error_code(code)
            b.error = f"{e.name}: {text}"
            self.stats["registrations_refused"] += 1
            b.next_renew = _now() + max(b.renew_ms, 1000) / 1000.0  # retry once per interval
            return
        self._drop("unexpected_kind")

    def _on_event(self, payload):
        b = self.broker
        ev, why = codec.decode_event(payload, self.p.limits)
        if why:
            return self._drop(why)
        b.events += 1
        if ev.epoch != b.epoch:
            return  # an epoch we have not registered with yet: our Ack will resync us
        if ev.sequence <= b.last_seq:
            self.stats["events_duplicate"] += 1
            return
        if ev.sequence > b.last_seq + 1:
            self.stats["events_lost"] += ev.sequence - b.last_seq - 1
            b.last_seq = ev.sequence
            return self._resync()
        b.last_seq = ev.sequence
        for t, info, _reason in ev.changes:
            if info.id == self.p.id:
                continue
            if t in (1, 3):
                self._member_set(_member(info))
            elif t == 2:
                m = self.members.get(info.id)
                if m and m.session == info.session:
                    self._member_gone(info.id)
