"""The engine's publish/subscribe part (protocol.md 5.5, 5.6): our XPUB, our SUB, the
publishers we follow, sequence and gap tracking, and the two-round subscription sync.
A mixin of Engine: it runs on the engine thread only and uses the Engine's state."""
from __future__ import annotations

import zmq

from . import codec, errors
from .engine_util import SyncOp, _fail, _now, _ok


class PubSub:
    # -- pub/sub -------------------------------------------------------------------------
    def cmd_publish(self, topic, type_, payload):
        if not self.xpub:
            return
        s = self.seq.get(topic, 0) + 1
        self.seq[topic] = s
        try:
            self.xpub.send_multipart([topic, self.hdr(codec.PUBLISH, 0, type_, 0, s), payload],
                                     zmq.NOBLOCK)
        except zmq.ZMQError:
            self.stats["publish_dropped"] += 1

    def _on_xpub(self, frames):
        if len(frames) != 1 or not frames[0]:
            return
        f = frames[0]
        self.stats["subscriptions_seen"] += 1
        if f[0] == 1 and f[1:].startswith(b"\x00zmesh.sync."):
            try:
                self.xpub.send_multipart([f[1:], self.hdr(codec.SYNC), b""], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass

    def _on_sub(self, frames):
        why = codec.check_sizes("sub", frames, self.p.limits)
        if why:
            return self._drop(why)
        topic, hb, payload = frames
        h, why = codec.decode_header(hb, self.p.limits)
        if why:
            return self._drop(why)
        if h.kind == codec.SYNC:
            for op in self.syncs:
                if topic == op.marker:
                    op.got.add(h.sender_id)
            return
        if h.kind == codec.SEQUENCES:
            return  # a C++ publisher's heartbeat: this peer does not read it (README)
        if h.kind != codec.PUBLISH or topic.startswith(b"\x00"):
            return self._drop("unexpected_kind")
        st = self.pubs.get(h.sender_id)
        if st is None or st["session"] != h.sender_session:
            if st is not None:
                self.stats["publisher_restarts"] += 1
            st = self.pubs[h.sender_id] = dict(session=h.sender_session, topics={},
                                               received=st["received"] if st else 0,
                                               missed=st["missed"] if st else 0)
        last = st["topics"].get(topic)
        missed = 0
        if last is not None and h.sequence > last + 1:
            missed = h.sequence - last - 1
        if last is None or h.sequence > last:
            st["topics"][topic] = h.sequence
        st["received"] += 1
        st["missed"] += missed
        from .peer import Message
        msg = Message(h.type.decode("utf-8", "replace"), payload, h.sender_id, "", False,
                      topic, h.sequence)
        p = self.p
        pub = h.sender_id

        def job():
            if missed:
                with p._lock:
                    gh = list(p._gap_handlers.values())
                for g in gh:
                    try:
                        g(pub, topic, missed)
                    except Exception:
                        pass
            with p._lock:
                hs = [hd for pf, hd in p._subs.values() if topic.startswith(pf)]
            for hd in hs:
                try:
                    hd(msg)
                except Exception:
                    pass
        self._dispatch(("pub", pub), job)

    def _follow(self, ep, reason):
        if not ep or ep == self.p.pub_endpoint:
            return
        rs = self.followed.setdefault(ep, set())
        if not rs:
            self.sub.connect(ep)
        rs.add(reason)

    def _unfollow(self, ep, reason):
        rs = self.followed.get(ep)
        if rs is None:
            return
        rs.discard(reason)
        if not rs:
            del self.followed[ep]
            try:
                self.sub.disconnect(ep)
            except zmq.ZMQError:
                pass

    def cmd_subscribe_to(self, ep):
        self._follow(ep, "explicit")

    def cmd_subscribe(self, prefix):
        n = self.sub_counts.get(prefix, 0)
        if n == 0:
            self.sub.setsockopt(zmq.SUBSCRIBE, prefix)
        self.sub_counts[prefix] = n + 1

    def cmd_unsubscribe(self, prefix):
        n = self.sub_counts.get(prefix, 0)
        if n <= 1:
            self.sub_counts.pop(prefix, None)
            if n == 1:
                self.sub.setsockopt(zmq.UNSUBSCRIBE, prefix)
        else:
            self.sub_counts[prefix] = n - 1

    def cmd_sync(self, timeout, fut):
        op = SyncOp(fut, _now() + timeout)
        if not self.followed:
            return _ok(fut, 0)
        self._sync_round(op)
        self.syncs.append(op)

    def _sync_round(self, op):
        if op.marker:
            self.sub.setsockopt(zmq.UNSUBSCRIBE, op.marker)
        op.round += 1
        self.sync_counter += 1
        op.marker = codec.marker_topic(self.p.id, self.sync_counter)
        op.got = set()
        self.sub.setsockopt(zmq.SUBSCRIBE, op.marker)

    def _sync_timers(self):
        now = _now()
        for op in list(self.syncs):
            need = len(self.followed)
            if len(op.got) >= need:
                if op.round == 1:
                    self._sync_round(op)
                    continue
                self.sub.setsockopt(zmq.UNSUBSCRIBE, op.marker)
                self.syncs.remove(op)
                _ok(op.fut, len(op.got))
            elif now > op.deadline or op.fut.done():
                self.sub.setsockopt(zmq.UNSUBSCRIBE, op.marker)
                self.syncs.remove(op)
                _fail(op.fut, errors.Timeout(
                    f"subscriptions not confirmed: {need - len(op.got)} of {need} publishers "
                    f"did not answer round {op.round}"))

    def cmd_publishers(self, fut):
        _ok(fut, {k: dict(received=v["received"], missed=v["missed"], session=v["session"])
                  for k, v in self.pubs.items()})
