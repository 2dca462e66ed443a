"""The engine's publish/subscribe part (protocol.md 5.5, 5.6, 5.9, 5.10): our XPUB, our
SUB, the publishers we follow, sequence and gap tracking, the two-round subscription sync,
the broadcast heartbeat (Sequences) both ways, and retained last values both ways.
A mixin of Engine: it runs on the engine thread only and uses the Engine's state."""
from __future__ import annotations

import zmq

from . import codec, errors, security
from .engine_util import SyncOp, _fail, _now, _ok


class PubSub:
    # -- publishing ----------------------------------------------------------------------
    def cmd_publish(self, topic, type_, payload):
        if not self.xpub:
            return
        # Numbered when sent (5.5): a broadcast that could not be sent at all takes none.
        s = self.announcer.sequence(topic) + 1
        try:
            self.xpub.send_multipart([topic, self.hdr(codec.PUBLISH, 0, type_, 0, s), payload],
                                     zmq.NOBLOCK)
        except zmq.ZMQError:
            self.stats["publish_dropped"] += 1
            return
        self.announcer.next(topic)
        self.stats["published"] += 1
        if self.retained.enabled:
            self.retained.keep(topic, type_, s, payload)

    def _broadcast_timers(self, now):
        hb = self.p.broadcast_heartbeat
        if hb > 0 and now >= self.next_announce:
            self.next_announce = now + hb
            self._announce_sequences()

    def _announce_sequences(self):
        """The broadcast heartbeat (5.9): the latest sequence of the topics published
        lately, on the reserved topic every subscriber subscribes to."""
        if not self.xpub or self.stopping:
            return
        for batch in self.announcer.take():
            try:
                # Like a Publish: dropped at the high-water mark of a subscriber that is
                # behind; the announcer repeats each topic, so a later heartbeat reaches it.
                self.xpub.send_multipart([codec.HB_TOPIC, self.hdr(codec.SEQUENCES),
                                          codec.encode_sequences(batch)], zmq.NOBLOCK)
                self.stats["sequences_sent"] += 1
            except zmq.ZMQError:
                pass

    def _on_xpub(self, frames):
        # [1|0][topic]: ZeroMQ's (un)subscription messages, every subscription passed up
        # (XPUB_VERBOSE). Sync and last-value markers are answered at once, in the order
        # they arrive, so a last-value marker's values go out before the next Sync.
        if len(frames) != 1 or not frames[0]:
            return
        f = frames[0]
        if f[0] != 1:
            return
        topic = f[1:]
        if topic.startswith(codec.SYNC_PREFIX):
            try:
                self.xpub.send_multipart([topic, self.hdr(codec.SYNC), b""], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
            return
        if topic.startswith(codec.LAST_PREFIX):
            return self._answer_last(topic)
        if topic != codec.HB_TOPIC:
            self.stats["subscriptions_seen"] += 1

    def _answer_last(self, marker):
        """A last-value marker (5.10): our retained value of every topic starting with its
        prefix, as it was published, flagged Retained, on L' + topic."""
        parsed = codec.parse_last_marker(marker)
        if parsed is None:
            return self._drop("bad_last_marker")
        base, prefix = parsed
        most = self.p.limits.max_topic_bytes
        for topic, type_, seq, payload in list(self.retained.matching(prefix)):
            frame = base + topic
            if len(frame) > most:
                continue  # the subscriber would refuse the topic frame: no last value
            try:
                self.xpub.send_multipart(
                    [frame, self.hdr(codec.PUBLISH, 0, type_, 0, seq, codec.FLAG_RETAINED),
                     payload], zmq.NOBLOCK)
                self.stats["retained_sent"] += 1
            except zmq.ZMQError:
                pass

    # -- subscribing ---------------------------------------------------------------------
    def _on_sub(self, frames):
        why = codec.check_sizes("sub", frames, self.p.limits)
        if why:
            return self._drop(why)
        topic, hb, payload = frames
        h, why = codec.decode_header(hb, self.p.limits)
        if why:
            return self._drop(why)
        k = h.kind
        if k == codec.SYNC:
            for op in self.syncs:
                if topic == op.marker:
                    op.got.add(h.sender_id)
            return
        if k == codec.PUBLISH and topic.startswith(codec.LAST_PREFIX):
            return self._on_retained(topic, h, payload)
        if k == codec.SEQUENCES and topic == codec.HB_TOPIC:
            return self._on_sequences(h, payload)
        if k != codec.PUBLISH or topic.startswith(b"\x00"):
            return self._drop("unexpected_kind")
        st = self._track(h)
        last = st["topics"].get(topic)
        missed = 0
        if last is not None and h.sequence > last + 1:
            missed = h.sequence - last - 1
        if last is None or h.sequence > last:
            st["topics"][topic] = h.sequence
        st["received"] += 1
        if missed:
            st["missed"] += missed
            self.stats["gaps"] += missed
        self._deliver(h, topic, payload, [(topic, missed)] if missed else (), False)

    def _track(self, h):
        """The tracking of a publisher (5.5): a new session is a restart, every topic
        starts again and nothing counts as missed."""
        st = self.pubs.get(h.sender_id)
        if st is None or st["session"] != h.sender_session:
            if st is not None:
                self.stats["publisher_restarts"] += 1
            st = self.pubs[h.sender_id] = dict(session=h.sender_session, topics={},
                                               received=st["received"] if st else 0,
                                               missed=st["missed"] if st else 0)
        return st

    def _subscribed_to(self, topic) -> bool:
        return any(topic.startswith(pf) for pf in self.sub_counts)

    def _on_sequences(self, h, payload):
        """A publisher's heartbeat (5.9): losses after the last broadcast we received on
        each of our topics, counted once (a later Publish continues from the entry)."""
        entries, why = codec.decode_sequences(payload, self.p.limits)
        if why:
            return self._drop(why)
        self.stats["sequences_received"] += 1
        st = None
        gaps = []
        for t, s in entries:
            if not self._subscribed_to(t):
                continue  # every subscriber gets every entry: only our topics count
            if st is None:
                st = self._track(h)
            last = st["topics"].get(t)
            # Untracked (we joined or subscribed after it): tracking starts with the first
            # Publish or retained value we receive, so this cannot hide a retained value.
            if last is None or s <= last:
                continue
            missed = s - last
            st["topics"][t] = s
            st["missed"] += missed
            self.stats["gaps"] += missed
            gaps.append((t, missed))
        if gaps:
            self._gaps_job(h.sender_id, gaps)

    def _on_retained(self, topic, h, payload):
        """A retained value (5.10): only on one of our last-value markers still pending
        and flagged Retained; delivered under the topic it carries, unless we have that
        sequence (or a newer one) on the topic already."""
        op = None
        for o in self.syncs:
            if o.last_marker and topic.startswith(o.last_marker):
                op = o
                break
        if op is None or not h.flags & codec.FLAG_RETAINED:
            return self._drop("unexpected_retained")  # another subscriber's, or done
        t = topic[op.last_base:]
        if t.startswith(b"\x00"):
            return self._drop("unexpected_retained")  # never delivered on a reserved topic
        st = self._track(h)
        last = st["topics"].get(t)
        missed = 0
        if last is not None:
            if h.sequence <= last:
                self.stats["retained_not_delivered"] += 1
                return  # received already, or something newer overtook it
            missed = h.sequence - last - 1
        st["topics"][t] = h.sequence
        st["received"] += 1
        self.stats["retained_received"] += 1
        if missed:
            st["missed"] += missed
            self.stats["gaps"] += missed
        self._deliver(h, t, payload, [(t, missed)] if missed else (), True)

    def _gaps_job(self, pub, gaps):
        p = self.p

        def job():
            with p._lock:
                gh = list(p._gap_handlers.values())
            for topic, missed in gaps:
                for g in gh:
                    try:
                        g(pub, topic, missed)
                    except Exception:
                        pass
        self._dispatch(("pub", pub), job)

    def _deliver(self, h, topic, payload, gaps, retained):
        """Hands a broadcast (and the gaps before it) to the publisher's worker."""
        from .peer import Message
        msg = Message(h.type.decode("utf-8", "replace"), payload, h.sender_id, "", False,
                      topic, h.sequence, retained)
        p = self.p
        pub = h.sender_id

        def job():
            if gaps:
                with p._lock:
                    gh = list(p._gap_handlers.values())
                for t, missed in gaps:
                    for g in gh:
                        try:
                            g(pub, t, missed)
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

    def _publisher_key(self, ep, reason) -> str:
        """CURVE: the public key of the publisher at ep (5.8): given to subscribe_to, or
        the key of the peer whose PeerInfo announces it (its greeting, or the broker)."""
        if isinstance(reason, tuple) and reason[0] == "conn":
            c = self.by_id.get(reason[1])
            if c is not None and c.info and c.info.public_key:
                return c.info.public_key
        if isinstance(reason, tuple) and reason[0] == "member":
            m = self.members.get(reason[1])
            if m is not None and getattr(m, "public_key", ""):
                return m.public_key
        return self.server_keys.get(ep, "")

    def _follow(self, ep, reason):
        if not ep or ep == self.p.pub_endpoint:
            return
        rs = self.followed.get(ep)
        if not rs:
            if self.curve.enabled:
                key = self._publisher_key(ep, reason)
                if not key:  # a publisher we cannot authenticate: not followed
                    self.stats["publishers_without_key"] += 1
                    return
                security.set_curve_client(self.sub, self.curve, key)  # for this connect
                self.pub_keys[ep] = key
            try:
                self.sub.connect(ep)
            except zmq.ZMQError:
                self.stats["bad_pub_endpoints"] += 1
                return
            rs = self.followed.setdefault(ep, set())
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

    def cmd_subscribe_to(self, ep, key=""):
        if key:
            self.server_keys[ep] = key
        self._follow(ep, "explicit")

    def cmd_subscribe(self, prefix):
        if not self.sub_counts:
            # Every publisher's heartbeat (5.9), while we subscribe to anything; its
            # entries for topics none of our prefixes match are skipped.
            self.sub.setsockopt(zmq.SUBSCRIBE, codec.HB_TOPIC)
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
                if not self.sub_counts:
                    self.sub.setsockopt(zmq.UNSUBSCRIBE, codec.HB_TOPIC)
        else:
            self.sub_counts[prefix] = n - 1

    def cmd_sync(self, timeout, last, fut):
        op = SyncOp(fut, _now() + timeout, last)
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
        if op.round == 2 and op.last is not None:
            # Subscribed before round 2's marker: every publisher answers it (sends its
            # retained values) before it answers that marker (5.10).
            self.sync_counter += 1
            op.last_marker, op.last_base = codec.last_marker(self.p.id, self.sync_counter,
                                                             op.last)
            self.sub.setsockopt(zmq.SUBSCRIBE, op.last_marker)
        self.sub.setsockopt(zmq.SUBSCRIBE, op.marker)

    def _end_sync(self, op):
        self.sub.setsockopt(zmq.UNSUBSCRIBE, op.marker)
        if op.last_marker:
            self.sub.setsockopt(zmq.UNSUBSCRIBE, op.last_marker)
            op.last_marker = b""
        self.syncs.remove(op)

    def _sync_timers(self):
        now = _now()
        for op in list(self.syncs):
            need = len(self.followed)
            if len(op.got) >= need:
                if op.round == 1:
                    self._sync_round(op)
                    continue
                # every publisher sent its retained values before its round-2 Sync
                self._end_sync(op)
                _ok(op.fut, len(op.got))
            elif now > op.deadline or op.fut.done():
                self._end_sync(op)
                _fail(op.fut, errors.Timeout(
                    f"subscriptions not confirmed: {need - len(op.got)} of {need} publishers "
                    f"did not answer round {op.round}"))

    def cmd_publishers(self, fut):
        _ok(fut, {k: dict(received=v["received"], missed=v["missed"], session=v["session"],
                          topics=len(v["topics"]))
                  for k, v in self.pubs.items()})
