"""The broadcast heartbeat (Sequences, protocol.md 5.9) and retained last values (5.10):
rules 64-69 of section 11, both ways. Unit tests of the announcer, the retained store and
the Sequences codec; the Python peer against bare pyzmq sockets that play the other side
byte by byte; and against the real C++ binaries (`zmesh publish`, `zmesh subscribe`)."""
import json
import os
import random
import re
import signal
import sys
import threading
import time

import pytest
import zmq

import zmesh
from zmesh import codec
from zmesh.broadcast_state import RetainedStore, RetainRule, SequenceAnnouncer

from conftest import EXAMPLES, ZMESH_BIN, need_binaries, wait_for

HB = codec.HB_TOPIC


def settled(value, quiet=0.3, timeout=10.0):
    """Waits until value() stops changing for `quiet` seconds; returns it."""
    end = time.monotonic() + timeout
    v = value()
    while time.monotonic() < end:
        time.sleep(quiet)
        w = value()
        if w == v:
            return v
        v = w
    return v


# -- units: the announcer, the retained store, the Sequences payload --------------------
def test_rule64_the_announcer_repeats_at_2_4_to_512_heartbeats_then_stops():
    a = SequenceAnnouncer()
    assert a.take() == []                      # nothing published: nothing announced
    assert [a.next(b"x") for _ in range(3)] == [1, 2, 3]
    assert a.next(b"y") == 1
    ages = []
    for age in range(1, 1100):
        got = a.take()
        if got:
            assert got == [[(b"x", 3), (b"y", 1)]]
            ages.append(age)
    assert ages == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    assert a.active == 0 and a.topics == 2
    # a Publish starts the schedule again, from its own sequence
    assert a.next(b"x") == 4
    assert a.take() == [[(b"x", 4)]]
    assert a.take() == [[(b"x", 4)]]
    assert a.take() == []
    a.next(b"x")                               # a change mid-schedule restarts it
    assert a.take() == [[(b"x", 5)]]


def test_rule64_announcements_are_batched_at_most_1024_entries():
    a = SequenceAnnouncer()
    topics = [f"t/{i}".encode() for i in range(2500)]
    for t in topics:
        a.next(t)
    batches = a.take()
    assert [len(b) for b in batches] == [1024, 1024, 452]
    assert [e for b in batches for e in b] == [(t, 1) for t in topics]
    for b in batches:  # each one encodes and decodes within the receiver's bound
        assert codec.decode_sequences(codec.encode_sequences(b))[0] == b


def test_rule67_sequences_payload_rules():
    ok = [(b"a", 1), (b"x" * 256, 2**64 - 1)]
    assert codec.decode_sequences(codec.encode_sequences(ok)) == (ok, None)
    assert codec.decode_sequences(codec.encode_sequences([(b"t", 1)] * 4096))[1] is None
    bad = [[], [(b"t", 1)] * 4097, [(b"", 1)], [(b"x" * 257, 1)], [(b"t", 0)],
           [(b"a", 1), (b"b", 0)]]
    for entries in bad:
        assert codec.decode_sequences(codec.encode_sequences(entries)) == (None, "bad_value")
    # a table without the vector, or an entry without its topic: bad_value too
    import flatbuffers
    from zmesh.wire import Sequences, TopicSequence
    b = flatbuffers.Builder(32)
    Sequences.Start(b)
    b.Finish(Sequences.End(b))
    assert codec.decode_sequences(bytes(b.Output())) == (None, "bad_value")
    b = flatbuffers.Builder(32)
    TopicSequence.Start(b)
    TopicSequence.AddSequence(b, 5)
    e = TopicSequence.End(b)
    Sequences.StartTopicsVector(b, 1)
    b.PrependUOffsetTRelative(e)
    v = b.EndVector()
    Sequences.Start(b)
    Sequences.AddTopics(b, v)
    b.Finish(Sequences.End(b))
    assert codec.decode_sequences(bytes(b.Output())) == (None, "bad_value")
    # garbage and every truncation or mutation of a good payload: never raises
    assert codec.decode_sequences(b"not a flatbuffer")[1] == "payload_malformed"
    assert codec.decode_sequences(b"")[1] == "payload_malformed"
    good = codec.encode_sequences([(b"weather/paris", 10), (b"news/x", 7)])
    rng = random.Random(67)
    for i in range(3000):
        m = bytearray(good[:rng.randrange(len(good) + 1)] if i % 3 == 0 else good)
        for _ in range(rng.randrange(1, 4)):
            if m:
                m[rng.randrange(len(m))] = rng.randrange(256)
        v, why = codec.decode_sequences(bytes(m))
        assert (v is None) != (why is None)
        if v is not None:
            assert 1 <= len(v) <= 4096 and all(1 <= len(t) <= 256 and s for t, s in v)


def test_rule68_the_retained_store_keeps_the_last_value_per_topic_within_its_rules():
    s = RetainedStore([RetainRule(b"", 100, 1 << 20), RetainRule(b"t/", 2, 1000),
                       RetainRule(b"b/", 10, 20)])
    s.keep(b"x", b"T", 1, b"1")
    s.keep(b"x", b"T", 2, b"2")                 # the last one only
    s.keep(b"t/1", b"T", 1, b"a")               # the longest prefix rule: at most 2 topics
    s.keep(b"t/2", b"T", 1, b"b")
    s.keep(b"t/1", b"T", 2, b"c")               # t/1 is now the most recently published
    s.keep(b"t/3", b"T", 1, b"d")               # t/2 goes: least recently published
    assert sorted(s.matching(b"")) == [(b"t/1", b"T", 2, b"c"), (b"t/3", b"T", 1, b"d"),
                                       (b"x", b"T", 2, b"2")]
    assert sorted(t for t, *_ in s.matching(b"t/")) == [b"t/1", b"t/3"]
    s.keep(b"b/1", b"T", 1, b"x" * 10)          # 3 + 1 + 10 = 14 bytes
    s.keep(b"b/2", b"T", 1, b"y" * 10)          # 14 + 14 > 20: b/1 goes
    assert [t for t, *_ in s.matching(b"b/")] == [b"b/2"]
    s.keep(b"b/2", b"T", 2, b"z" * 30)          # never fits: the topic has no last value now
    assert list(s.matching(b"b/")) == []
    assert len(s) == 3 and s.bytes == sum(len(t) + len(ty) + len(p)
                                          for t, ty, _, p in s.matching(b""))
    assert not RetainedStore().enabled


def test_retain_options_and_reserved_prefixes_are_refused(peers):
    for bad in (["\x00x"], [("ok/", 0, 10)], [("ok/", 10, 0)], ["x" * 257], [3]):
        with pytest.raises(zmesh.InvalidArgument):
            zmesh.Peer("p", retain=bad, start=False)
    for hb in (0.005, 61, -1):
        with pytest.raises(zmesh.InvalidArgument):
            zmesh.Peer("p", broadcast_heartbeat=hb, start=False)
    assert zmesh.Peer("p", retain="k/", start=False).retain == [RetainRule(b"k/", 1000, 1 << 20)]
    p = peers.make("sub")
    with pytest.raises(zmesh.InvalidArgument):
        p.sync_subscriptions(1, last="\x00zmesh")
    with pytest.raises(zmesh.InvalidArgument):
        p.sync_subscriptions(1, last="x" * 207)   # 50 bytes of marker + prefix > 256
    with pytest.raises(zmesh.InvalidArgument):
        p.subscribe("a", lambda m: None, sync=False, last=True)
    assert p.sync_subscriptions(1, last="x" * 206) == 0  # no publisher followed: done at once


# -- the Python publisher against a raw SUB ------------------------------------------------
def raw_sub(raws, pub_ep, *subs):
    """A bare SUB on pub_ep, its subscriptions in effect once its own marker is answered."""
    r = raws(zmq.SUB)
    for t in subs:
        r.s.setsockopt(zmq.SUBSCRIBE, t)
    r.s.connect(pub_ep)
    m = codec.marker_topic(r.id, 1)
    r.s.setsockopt(zmq.SUBSCRIBE, m)
    end = time.monotonic() + 3
    while time.monotonic() < end:
        f = r.recv(0.5)
        if f and f[0] == m:
            r.s.setsockopt(zmq.UNSUBSCRIBE, m)
            return r
    raise AssertionError("no Sync")


def heartbeats(r, timeout, until=None):
    """(arrival time, header, entries) of each Sequences r receives within timeout (or
    until until(list so far) holds)."""
    out = []
    end = time.monotonic() + timeout
    while time.monotonic() < end and not (until and until(out)):
        f = r.recv(max(0.0, end - time.monotonic()))
        if f and f[0] == HB:
            h, why = codec.decode_header(f[1])
            assert why is None
            out.append((time.monotonic(), h, codec.decode_sequences(f[2])[0]))
    return out


def test_rule64_an_idle_publisher_sends_nothing_then_announces_on_the_repeat_schedule(
        peers, raws):
    p = peers.make("pub", broadcast_heartbeat=0.02)
    r = raw_sub(raws, p.pub_endpoint, b"")      # everything, the heartbeat topic included
    assert r.recv(0.3) is None                  # nothing published: no heartbeat
    t0 = time.monotonic()
    p.publish("t", "T", b"x")
    f = r.recv(1)
    assert f[0] == b"t" and codec.decode_header(f[1])[0].sequence == 1
    got = heartbeats(r, 1.0)
    # announced at ages 1, 2, 4, 8, 16, 32 heartbeats (20 .. 640 ms); 64 is at 1280 ms
    assert 4 <= len(got) <= 6, [round(t - t0, 3) for t, _, _ in got]
    for k, (t, h, entries) in enumerate(got):
        assert entries == [(b"t", 1)]
        assert (h.kind, h.correlation_id, h.sequence) == (codec.SEQUENCES, 0, 0)
        assert (h.sender_id, h.sender_session) == (p.id, p.session)
        # age 2^k: never earlier than 2^k - 1 periods after the publish (the first heartbeat
        # after it is age 1)
        assert t - t0 >= 0.02 * (2 ** k - 1) - 0.005
    assert p.stats()["sequences_sent"] == len(got)


def test_rule64_a_heartbeat_holds_what_changed_batched_by_1024(peers, raws):
    p = peers.make("pub", broadcast_heartbeat=0.3)
    r = raw_sub(raws, p.pub_endpoint, HB)
    topics = [f"t/{i}".encode() for i in range(2500)]
    for t in topics:
        p.publish(t, "T", b"")

    def first(got):
        out = {}
        for _, _, entries in got:
            for t, s in entries:
                out.setdefault(t, s)
        return out
    got = heartbeats(r, 3, lambda got: len(first(got)) == len(topics))
    assert first(got) == {t: 1 for t in topics}
    # at most two heartbeats hold the 2 500 changes: one payload of them has 1 024
    assert all(1 <= len(e) <= 1024 for _, _, e in got)
    assert max(len(e) for _, _, e in got) == 1024


def test_rule64_zero_heartbeat_sends_none(peers, raws):
    p = peers.make("pub", broadcast_heartbeat=0)
    r = raw_sub(raws, p.pub_endpoint, HB)
    p.publish("t", "T", b"x")
    assert r.recv(0.5) is None and p.stats().get("sequences_sent", 0) == 0


# -- the Python subscriber against a raw XPUB ----------------------------------------------
class RawPub:
    """A bare XPUB playing a publisher (id, session of its own), single-threaded."""

    def __init__(self, raws):
        self.r = raws(zmq.XPUB)
        self.r.s.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.ep = f"tcp://127.0.0.1:{self.r.s.bind_to_random_port('tcp://127.0.0.1')}"
        self.id, self.session = self.r.id, self.r.session
        self.seen = []

    def wait_sub(self, pred, timeout=3.0):
        """The first subscription (topic) seen so far or within timeout that pred accepts."""
        end = time.monotonic() + timeout
        i = 0
        while True:
            while i < len(self.seen):
                if pred(self.seen[i]):
                    return self.seen.pop(i)
                i += 1
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"subscription not seen; seen {self.seen}")
            f = self.r.recv(left)
            if f and f[0][:1] == b"\x01":
                self.seen.append(f[0][1:])

    def send(self, topic, kind, payload=b"", **kw):
        self.r.s.send_multipart([topic, self.r.hdr(kind, 0, **kw), payload])

    def publish(self, topic, seq, payload=b"x", flags=0, session=None):
        self.send(topic, codec.PUBLISH, payload, type_=b"T", sequence=seq, flags=flags,
                  session=session)

    def announce(self, entries, session=None):
        payload = entries if isinstance(entries, bytes) else codec.encode_sequences(entries)
        self.send(HB, codec.SEQUENCES, payload, session=session)

    def answer_sync(self):
        m = self.wait_sub(lambda t: t.startswith(codec.SYNC_PREFIX))
        self.send(m, codec.SYNC)
        return m


class Seen:
    """What a subscriber's handlers and gap handlers got."""

    def __init__(self, p):
        self.msgs, self.gaps = [], []
        p.on_gap(lambda pub, topic, n: self.gaps.append((pub, topic, n)))

    def __call__(self, m):
        self.msgs.append((("r" if m.retained else "") + f"{m.sequence}", m.topic, m.payload))


def test_rule65_announcements_count_what_was_missed_once_and_only_for_our_prefixes(
        peers, raws):
    pub = RawPub(raws)
    p = peers.make("sub")
    seen = Seen(p)
    p.subscribe("weather/", seen, sync=False)
    p.subscribe_to(pub.ep)
    pub.wait_sub(lambda t: t == b"weather/")
    pub.wait_sub(lambda t: t == HB)             # we subscribe to every heartbeat
    pub.publish(b"weather/paris", 3)            # tracking starts at 3
    assert wait_for(lambda: len(seen.msgs) == 1, 2)
    # 4..10 never arrived; news/x is not ours; weather/oslo was never received: not
    # tracked, so its entry counts nothing (tracking starts with its first Publish)
    pub.announce([(b"weather/paris", 10), (b"news/x", 7), (b"weather/oslo", 4)])
    assert wait_for(lambda: p.publishers()[pub.id]["missed"] == 7, 2)
    pub.announce([(b"weather/paris", 10), (b"weather/oslo", 4)])   # a repeat: nothing
    pub.announce([(b"weather/paris", 9)])                          # below: nothing
    pub.publish(b"weather/paris", 11)                              # continues: no gap
    pub.publish(b"weather/oslo", 5)
    assert wait_for(lambda: len(seen.msgs) == 3, 2)
    pub.announce([(b"weather/paris", 11), (b"weather/oslo", 5)])
    pub.announce(b"not a flatbuffer")
    pub.announce(codec.encode_sequences([(b"weather/paris", 0)]))
    pub.send(b"\x00zmesh.hb.x", codec.SEQUENCES, codec.encode_sequences([(b"weather/paris", 20)]))
    assert wait_for(lambda: p.stats().get("dropped_unexpected_kind") == 1, 2)  # the last sent
    st = p.stats()
    assert st["dropped_payload_malformed"] == 1 and st["dropped_bad_value"] == 1
    assert p.publishers()[pub.id] == dict(received=3, missed=7, session=pub.session, topics=2)
    assert seen.gaps == [(pub.id, b"weather/paris", 7)]
    # a new session's heartbeat is a restart: tracking starts again, nothing is missed
    pub.announce([(b"weather/paris", 50)], session=pub.session + 1)
    pub.publish(b"weather/paris", 2, session=pub.session + 1)
    assert wait_for(lambda: len(seen.msgs) == 4, 2)
    pub.announce([(b"weather/paris", 5)], session=pub.session + 1)
    assert wait_for(lambda: p.publishers()[pub.id]["missed"] == 10, 2)
    assert seen.gaps[-1] == (pub.id, b"weather/paris", 3)
    assert [m[0] for m in seen.msgs] == ["3", "11", "5", "2"]


def tail_loss(peers, n, pub_kw, sub_kw):
    """A Python publisher bursting into a Python subscriber whose first handler call
    blocks until the whole burst is sent: the HWMs drop what does not fit, the tail
    included. Returns once the subscriber catches up."""
    pub = peers.make("pub", **pub_kw)
    sub = peers.make("sub", bind="", pub_bind="", **sub_kw)
    got, gaps = [], []
    gate = threading.Event()

    def slow(m):
        if not got:
            gate.wait(10)
        got.append(m.sequence)
    sub.on_gap(lambda pid, t, k: gaps.append(k))
    sub.subscribe_to(pub.pub_endpoint)
    sub.subscribe("load", slow)
    # The publisher's queue (hwm 1 000) and the TCP buffers fill up, then everything
    # more is dropped, the tail included. (With a tiny publisher hwm ZeroMQ drops now and
    # then while the buffers still fill, and the last one may get through.)
    payload = b"x" * 4096
    for _ in range(n):
        pub.publish("load", "L", payload)
    assert wait_for(lambda: pub.stats().get("published") == n, 10)
    gate.set()
    return pub, sub, got, gaps


def test_rule66_tail_loss_is_counted_exactly_without_another_broadcast(peers):
    n = 20000
    pub, sub, got, gaps = tail_loss(peers, n, dict(hwm=1000),
                                    dict(hwm=10, workers=1, worker_queue_depth=4))

    def adds_up():
        st = sub.publishers().get(pub.id)
        return st and st["received"] + st["missed"] == n
    assert wait_for(adds_up, 10), sub.publishers()
    st = sub.publishers()[pub.id]
    assert st["missed"] > 0, "the tiny HWMs should have dropped something"
    assert wait_for(lambda: len(got) == st["received"], 5)
    assert got[0] == 1 and got[-1] < n      # the tail was lost: only the heartbeat told
    # repeated announcements count nothing more; the next broadcast continues from there
    time.sleep(0.4)
    assert sub.publishers()[pub.id] == st
    pub.publish("load", "L", b"y")
    assert wait_for(lambda: got[-1] == n + 1, 3)
    time.sleep(0.3)
    st = sub.publishers()[pub.id]
    assert st["received"] + st["missed"] == n + 1
    assert wait_for(lambda: sum(gaps) == st["missed"], 3)


def test_rule66_without_a_heartbeat_the_tail_loss_stays_unseen(peers):
    n = 20000
    pub, sub, got, _ = tail_loss(peers, n, dict(hwm=1000, broadcast_heartbeat=0),
                                 dict(hwm=10, workers=1, worker_queue_depth=4))
    received = settled(lambda: len(got))
    st = sub.publishers()[pub.id]
    assert got[-1] < n, "the tail should have been lost"
    assert st["received"] == received and st["received"] + st["missed"] == got[-1] < n


def test_rule66_a_stream_without_loss_reports_no_gaps(peers):
    pub = peers.make("pub")
    sub = peers.make("sub", bind="", pub_bind="")
    got = []
    sub.subscribe_to(pub.pub_endpoint)
    sub.subscribe("calm/", lambda m: got.append(m))
    for i in range(1000):
        pub.publish(f"calm/{i % 7}", "C", b"x")
    assert wait_for(lambda: len(got) == 1000, 5)
    time.sleep(0.5)  # several heartbeats go by: they must find nothing missing
    st = sub.stats()
    assert sub.publishers()[pub.id]["missed"] == 0 and st.get("gaps", 0) == 0
    assert st["sequences_received"] >= 2 and st.get("dropped", 0) == 0


# -- retained values: the Python publisher against a raw SUB ------------------------------
def ask_last(r, counter, prefix):
    """Subscribes a last-value marker for `prefix`, then a sync marker; returns what
    arrives up to that marker's Sync: [(topic frame, header, payload)], the Sync last."""
    lm, base = codec.last_marker(r.id, counter, prefix)
    m = codec.marker_topic(r.id, counter + 1)
    r.s.setsockopt(zmq.SUBSCRIBE, lm)
    r.s.setsockopt(zmq.SUBSCRIBE, m)
    out = []
    while True:
        f = r.recv(3)
        assert f is not None, out
        out.append((f[0], codec.decode_header(f[1])[0], f[2]))
        if f[0] == m:
            break
    r.s.setsockopt(zmq.UNSUBSCRIBE, lm)
    r.s.setsockopt(zmq.UNSUBSCRIBE, m)
    return lm[:base], out


def test_rule68_a_last_value_marker_is_answered_with_each_matching_value_before_the_next_sync(
        peers, raws):
    p = peers.make("pub", retain=[RetainRule("keep/"), ("t/", 2, 1000), "long/"])
    for topic, payload in [("keep/a", "1"), ("keep/a", "2"), ("keep/b", "1"), ("drop/a", "1"),
                           ("t/1", "1"), ("t/2", "1"), ("t/3", "1"), ("long/" + "x" * 220, "1")]:
        p.publish(topic, "V", payload)
    assert wait_for(lambda: p.stats().get("published") == 8, 2)
    r = raw_sub(raws, p.pub_endpoint)           # subscribed to nothing but its markers
    base, got = ask_last(r, 10, b"keep/")
    *values, (sync_topic, sync_h, _) = got
    assert sync_h.kind == codec.SYNC
    assert [(t, h.sequence, h.type, pl) for t, h, pl in values] == \
        [(base + b"keep/a", 2, b"V", b"2"), (base + b"keep/b", 1, b"V", b"1")]
    for _, h, _ in values:
        assert (h.kind, h.flags, h.correlation_id) == (codec.PUBLISH, codec.FLAG_RETAINED, 0)
        assert (h.sender_id, h.sender_session) == (p.id, p.session)
    # the empty prefix: every retained topic; t/1 was forgotten (max_count 2), drop/ is not
    # retained, and long/xxx... would not fit behind the marker (256 bytes)
    base, got = ask_last(r, 20, b"")
    assert sorted(t[len(base):] for t, h, _ in got if h.kind == codec.PUBLISH) == \
        [b"keep/a", b"keep/b", b"t/2", b"t/3"]
    assert p.stats()["retained_values"] == 5
    # malformed last-value markers are answered with nothing, and the publisher goes on
    for bad in (codec.LAST_PREFIX + b"xyz", codec.LAST_PREFIX + b"0" * 16 + b"x1.",
                codec.LAST_PREFIX + b"0" * 16 + b".1"):
        r.s.setsockopt(zmq.SUBSCRIBE, bad)
    base, got = ask_last(r, 30, b"t/3")
    assert [(t[len(base):], h.sequence) for t, h, _ in got if h.kind == codec.PUBLISH] == \
        [(b"t/3", 1)]
    assert p.stats()["dropped_bad_last_marker"] == 3


# -- retained values: the Python subscriber against a raw XPUB -----------------------------
def test_rule69_the_subscriber_takes_only_its_own_flagged_values_once_and_goes_on_without_gaps(
        peers, raws):
    pub = RawPub(raws)
    p = peers.make("sub")
    seen = Seen(p)
    p.subscribe("", seen, sync=False)            # everything: other subscribers' markers too
    p.subscribe_to(pub.ep)
    pub.wait_sub(lambda t: t == b"")
    pub.publish(b"t/c", 7)                       # tracked at 7 before we ask
    pub.publish(b"t/d", 5)                       # tracked at 5
    pub.announce([(b"t/e", 4)])                  # untracked: ignored, does not hide t/e 4
    assert wait_for(lambda: len(seen.msgs) == 2, 2)
    sync = threading.Thread(target=lambda: p.sync_subscriptions(5, last="t/"))
    sync.start()
    pub.answer_sync()                            # round 1
    lm = pub.wait_sub(lambda t: t.startswith(codec.LAST_PREFIX))
    base, prefix = codec.parse_last_marker(lm)
    assert prefix == b"t/" and base == codec.last_marker(p.id, 3, b"")[0]
    other = codec.last_marker(p.id ^ 1, 3, b"")[0]
    pub.publish(base + b"t/a", 5, b"A", codec.FLAG_RETAINED)      # untracked: delivered
    pub.publish(base + b"t/b", 2, b"B")                           # not flagged: dropped
    pub.publish(other + b"t/b", 2, b"B", codec.FLAG_RETAINED)     # another's marker: dropped
    pub.publish(base + b"t/c", 7, b"C", codec.FLAG_RETAINED)      # received already: not again
    pub.publish(base + b"t/d", 9, b"D", codec.FLAG_RETAINED)      # jump above 5: 3 missed
    pub.publish(base + b"t/e", 4, b"E", codec.FLAG_RETAINED)      # heard only in a heartbeat
    pub.publish(base + b"\x00zmesh.x", 1, b"Z", codec.FLAG_RETAINED)  # never a reserved topic
    pub.answer_sync()                            # round 2: the sync is done
    sync.join(5)
    assert not sync.is_alive()
    pub.publish(base + b"t/f", 1, b"F", codec.FLAG_RETAINED)      # on a marker given up: dropped
    for t, s in ((b"t/a", 6), (b"t/c", 8), (b"t/d", 10), (b"t/e", 5)):
        pub.publish(t, s)                        # the live stream continues: no gap
    assert wait_for(lambda: len(seen.msgs) == 9, 2), seen.msgs
    time.sleep(0.1)
    assert [(s, t) for s, t, _ in seen.msgs] == [
        ("7", b"t/c"), ("5", b"t/d"), ("r5", b"t/a"), ("r9", b"t/d"), ("r4", b"t/e"),
        ("6", b"t/a"), ("8", b"t/c"), ("10", b"t/d"), ("5", b"t/e")]
    assert seen.gaps == [(pub.id, b"t/d", 3)]
    st = p.stats()
    assert st["dropped_unexpected_retained"] == 4 and st["retained_received"] == 3
    assert st["retained_not_delivered"] == 1
    assert p.publishers()[pub.id] == dict(received=9, missed=3, session=pub.session, topics=4)


def test_rule69_only_the_asking_subscriber_gets_them_and_only_retained_topics(peers):
    pub = peers.make("pub", retain=["keep/"])
    for t, v in (("keep/a", "1"), ("keep/a", "2"), ("drop/a", "1")):
        pub.publish(t, "V", v)
    assert wait_for(lambda: pub.stats().get("published") == 3, 2)
    plain, asking = peers.make("plain", bind=""), peers.make("asking", bind="")
    ps, as_ = Seen(plain), Seen(asking)
    for s in (plain, asking):
        s.subscribe_to(pub.pub_endpoint)
    plain.subscribe("", ps)
    asking.subscribe("", as_, last=True)
    assert wait_for(lambda: as_.msgs == [("r2", b"keep/a", b"2")], 2)
    time.sleep(0.3)
    assert ps.msgs == [] and as_.msgs == [("r2", b"keep/a", b"2")]
    pub.publish("keep/a", "V", "3")
    assert wait_for(lambda: len(ps.msgs) == 1 and len(as_.msgs) == 2, 2)
    assert as_.msgs == [("r2", b"keep/a", b"2"), ("3", b"keep/a", b"3")]
    assert ps.msgs == [("3", b"keep/a", b"3")]
    assert as_.gaps == [] and ps.gaps == []


def test_rule69_a_late_joiner_gets_each_retained_value_once_then_the_live_stream(peers):
    n = 1000
    pub = peers.make("pub", retain=[("t/", 2 * n, 16 << 20)])
    topic = lambda i: f"t/{i % 10}/{i}"  # noqa: E731
    for rnd in (1, 2, 3):
        for i in range(n):
            pub.publish(topic(i), "V", f"v{rnd}")
    assert wait_for(lambda: pub.stats().get("published") == 3 * n, 10)
    sub = peers.make("sub", bind="", pub_bind="")
    by_topic, lock = {}, threading.Lock()

    def h(m):
        with lock:
            by_topic.setdefault(m.topic, []).append(
                ("r" if m.retained else "") + f"{m.sequence}={m.payload.decode()}")
    sub.subscribe_to(pub.pub_endpoint)
    sub.subscribe("t/1/", h, last=True)
    assert wait_for(lambda: sum(map(len, by_topic.values())) == n // 10, 3)
    for i in range(n):
        pub.publish(topic(i), "V", "v4")
    assert wait_for(lambda: sum(map(len, by_topic.values())) == 2 * n // 10, 5)
    assert len(by_topic) == n // 10
    assert all(t.startswith(b"t/1/") and v == ["r3=v3", "4=v4"] for t, v in by_topic.items())
    time.sleep(0.25)  # heartbeats of the new sequences: nothing missed
    assert sub.publishers()[pub.id]["missed"] == 0
    sub.sync_subscriptions(5, last="t/1/")  # asking again delivers nothing twice
    time.sleep(0.2)
    assert sum(map(len, by_topic.values())) == 2 * n // 10
    assert sub.stats()["retained_not_delivered"] == n // 10


def test_rule69_a_heartbeat_heard_first_does_not_hide_the_retained_value(peers):
    pub = peers.make("pub", retain=["hb/"], broadcast_heartbeat=0.01)
    pub.publish("hb/x", "V", "last")
    assert wait_for(lambda: pub.stats().get("published") == 1, 2)
    sub = peers.make("sub", bind="", pub_bind="")
    seen = Seen(sub)
    sub.subscribe_to(pub.pub_endpoint)
    sub.subscribe("hb/", seen)
    # announcements of hb/x 1 arrive before we ask (at 10, 20, 40 ... 5120 ms)
    assert wait_for(lambda: sub.stats().get("sequences_received", 0) >= 1, 5)
    sub.sync_subscriptions(5, last="hb/")
    assert wait_for(lambda: seen.msgs == [("r1", b"hb/x", b"last")], 2)
    assert seen.gaps == [] and sub.publishers()[pub.id]["missed"] == 0


# -- against the C++ binaries ------------------------------------------------------------
@pytest.fixture
def binaries():
    need_binaries()


def cpp_publisher(procs, *args):
    p = procs.start([ZMESH_BIN, "publish", *args])
    m = re.match(r"publishing on (\S+) as \S+ \(id ([0-9a-f]{16})\)", procs.line(p))
    assert m
    return p, m.group(1), int(m.group(2), 16)


@pytest.mark.usefixtures("binaries")
def test_rule66_python_counts_the_tail_loss_of_a_cpp_publisher_exactly(procs, peers):
    """`zmesh publish` bursts into a Python subscriber with tiny high-water marks that
    falls behind, then goes silent (--retain keeps it running, heartbeating): what the
    subscriber received plus what it counted missed is exactly what was published, the
    tail's loss told by the heartbeat alone."""
    # 200 MB: far more than its queue (10 000), the TCP buffers (tens of MB on a Linux
    # loopback) and ours hold, so the burst's tail cannot fit
    n = 50_000
    pub, ep, pid = cpp_publisher(procs, "load", "L", "x" * 4096, "--count", str(n),
                                 "--retain", "--wait-subscribers", "1", "--timeout", "10s")
    sub = peers.make("py-sub", bind="", pub_bind="", hwm=10, workers=1, worker_queue_depth=4)
    got, gaps = [], []
    gate = threading.Event()

    def slow(m):
        if not got:
            gate.wait(10)  # stay behind until the whole burst is out: its tail is lost
        got.append(m.sequence)
    sub.on_gap(lambda _p, _t, k: gaps.append(k))
    sub.subscribe_to(ep)
    # No sync: the publisher starts once our subscription reached it (a Sync could be
    # dropped at its high-water mark during the burst).
    sub.subscribe("load", slow, sync=False)
    line = procs.line(type("S", (), {"stdout": pub.stderr})(), 15)
    assert line.startswith(f"published {n};"), line
    gate.set()

    def adds_up():
        st = sub.publishers().get(pid)
        return st and st["received"] + st["missed"] == n
    assert wait_for(adds_up, 15), sub.publishers()
    st = sub.publishers()[pid]
    assert wait_for(lambda: len(got) == st["received"], 5)
    assert got[0] == 1 and got == sorted(got)
    assert got[-1] < n and st["missed"] > 0     # the tail was lost: only the heartbeat told
    time.sleep(0.3)
    assert sub.publishers()[pid] == st          # repeats count nothing more
    assert wait_for(lambda: sum(gaps) == st["missed"], 3)
    pub.send_signal(signal.SIGTERM)
    assert pub.wait(10) == 0


@pytest.mark.usefixtures("binaries")
def test_rule66_a_lossless_cpp_stream_reports_no_gaps_and_its_heartbeat_decodes(
        procs, peers, raws):
    pub, ep, pid = cpp_publisher(procs, "calm/x", "C", "x", "--count", "1000", "--retain",
                                 "--wait-subscribers", "2", "--timeout", "10s")
    r = raws(zmq.SUB)
    r.s.setsockopt(zmq.SUBSCRIBE, HB)
    r.s.setsockopt(zmq.SUBSCRIBE, b"calm/")    # counts as one of the two subscribers
    r.s.connect(ep)
    sub = peers.make("py-sub", bind="", pub_bind="")
    got = []
    sub.subscribe_to(ep)
    sub.subscribe("calm/", lambda m: got.append(m.sequence), sync=False)
    assert wait_for(lambda: len(got) == 1000, 10)
    time.sleep(0.5)
    assert got == list(range(1, 1001))
    assert sub.publishers()[pid]["missed"] == 0 and sub.stats()["sequences_received"] >= 2
    # the C++ publisher's heartbeat, read by the Python decoder
    hb = heartbeats(r, 0.5) or heartbeats(r, 1.5)
    assert hb and all(e == [(b"calm/x", 1000)] for _, _, e in hb)
    assert all((h.sender_id, h.kind, h.correlation_id) == (pid, codec.SEQUENCES, 0)
               for _, h, _ in hb)


class CppSubscriber:
    """`zmesh subscribe --format json` whose stdout we do not read until told: meanwhile
    it stalls on the full pipe and falls behind. Counts its gap reports on stderr."""

    def __init__(self, procs, *args):
        self.p = procs.start([ZMESH_BIN, "subscribe", *args, "--format", "json"], text=False)
        self.err, self.rows, self.missed, self.last = [], 0, 0, None
        line = procs.line(type("S", (), {"stdout": self.p.stderr})(), 10)
        assert b"subscribed" in line, line
        threading.Thread(target=self._stderr, daemon=True).start()

    def _stderr(self):
        for line in self.p.stderr:
            line = line.decode()
            self.err.append(line)
            m = re.match(r"zmesh: missed (\d+) broadcast", line)
            if m:
                self.missed += int(m.group(1))

    def read(self):
        """Reads its stdout from now on (in chunks: it can be a lot); rows counts the
        lines, last is the last one."""
        def run():
            tail = b""
            for chunk in iter(lambda: self.p.stdout.read1(1 << 20), b""):
                tail += chunk
                n = tail.count(b"\n")
                if n:
                    lines = tail.split(b"\n")
                    self.last, tail = json.loads(lines[-2]), lines[-1]
                    self.rows += n
            self.eof.set()
        self.eof = threading.Event()
        threading.Thread(target=run, daemon=True).start()

    def totals(self):
        """Stops it; (received, missed) from its summary line."""
        self.p.send_signal(signal.SIGTERM)
        assert self.p.wait(10) == 0
        assert self.eof.wait(5)
        for _ in range(100):
            for line in self.err:
                m = re.match(r"received (\d+) broadcasts? from (\d+) publishers?, missed (\d+)",
                             line)
                if m:
                    return int(m.group(1)), int(m.group(3))
            time.sleep(0.02)
        raise AssertionError(self.err)


@pytest.mark.usefixtures("binaries")
@pytest.mark.parametrize("heartbeat", [0.1, 0])
def test_rule65_a_cpp_subscriber_counts_the_python_publishers_tail_loss(procs, peers, heartbeat):
    """The Python publisher's heartbeat lets `zmesh subscribe` count what the tail of a
    burst lost; without it (broadcast_heartbeat=0) that tail stays unseen."""
    # Far more than the stalled subscriber and the way to it hold: its worker queue, its
    # SUB (sub_hwm 10 000), the TCP buffers (tens of MB on a Linux loopback), our XPUB
    # (hwm 10 000, so that what is dropped is dropped once all of them are full, the
    # tail included, not now and then while they still fill)
    n = 40000
    pub = peers.make("py-pub", bind="", broadcast_heartbeat=heartbeat)
    sub = CppSubscriber(procs, "load", "--connect", pub.pub_endpoint)
    payload = b"x" * 4096
    for _ in range(n):
        pub.publish("load", "L", payload)
    assert wait_for(lambda: pub.stats().get("published") == n, 10)
    sub.read()  # it catches up now
    if heartbeat:
        assert wait_for(lambda: sub.rows + sub.missed == n, 15), (sub.rows, sub.missed)
        time.sleep(0.3)
    else:
        settled(lambda: (sub.rows, sub.missed), quiet=0.5)
    last = sub.last["sequence"]
    assert last < n, ("the burst's tail should have been lost", sub.rows, sub.missed)
    assert sub.last["publisher"] == f"{pub.id:016x}"
    received, missed = sub.totals()
    assert received == sub.rows and missed == sub.missed
    if heartbeat:
        assert received + missed == n and missed > 0
    else:
        assert received + missed == last < n


@pytest.mark.usefixtures("binaries")
def test_rule66_a_cpp_subscriber_sees_no_gaps_in_a_lossless_python_stream(procs, peers):
    pub = peers.make("py-pub", bind="")
    sub = CppSubscriber(procs, "calm/", "--connect", pub.pub_endpoint)
    sub.read()
    for i in range(1000):
        pub.publish(f"calm/{i % 7}", "C", b"x")
    assert wait_for(lambda: sub.rows == 1000, 10)
    time.sleep(0.5)  # heartbeats go by
    assert sub.totals() == (1000, 0)


@pytest.mark.usefixtures("binaries")
def test_rule68_69_python_asks_a_cpp_publisher_for_its_retained_value(procs, peers):
    pub, ep, pid = cpp_publisher(procs, "w/oslo", "F", "snow", "--count", "3", "--retain")
    line = procs.line(type("S", (), {"stdout": pub.stderr})(), 10)
    assert "retaining" in line, line  # all three are published
    plain, asking = peers.make("plain", bind="", pub_bind=""), peers.make("asking", bind="",
                                                                           pub_bind="")
    ps, as_ = Seen(plain), Seen(asking)
    msgs = []
    for s in (plain, asking):
        s.subscribe_to(ep)
    plain.subscribe("", ps)
    asking.subscribe("w/", lambda m: (msgs.append(m), as_(m)), last=True)
    assert wait_for(lambda: as_.msgs == [("r3", b"w/oslo", b"snow")], 2)
    assert (msgs[0].type, msgs[0].sender, msgs[0].retained) == ("F", pid, True)
    asking.sync_subscriptions(5, last="w/")     # again: received already, not delivered
    time.sleep(0.3)
    assert as_.msgs == [("r3", b"w/oslo", b"snow")] and ps.msgs == []
    st = asking.publishers()[pid]
    assert (st["received"], st["missed"], st["topics"]) == (1, 0, 1)
    assert as_.gaps == []


@pytest.mark.usefixtures("binaries")
def test_rule68_a_cpp_subscriber_gets_the_python_publishers_retained_value(procs, peers):
    pub = peers.make("py-pub", bind="", retain=["w/"])
    for t, v in (("w/a", "1"), ("w/a", "2"), ("x/a", "1")):
        pub.publish(t, "F", v)
    assert wait_for(lambda: pub.stats().get("published") == 3, 2)
    r = procs.start([ZMESH_BIN, "subscribe", "", "--connect", pub.pub_endpoint, "--last",
                     "--count", "1", "--format", "json"])
    assert r.wait(10) == 0
    (row,) = [json.loads(line) for line in r.stdout.read().splitlines()]
    assert (row["topic"], row["sequence"], row["payload"], row["type"], row.get("retained")) == \
        ("w/a", 2, "2", "F", True)
    assert row["publisher"] == f"{pub.id:016x}"
    t = procs.start([ZMESH_BIN, "subscribe", "w/", "--connect", pub.pub_endpoint, "--last",
                     "--count", "1"])
    assert t.wait(10) == 0
    (line,) = t.stdout.read().splitlines()
    assert f" w/a {pub.id:016x} 2(retained) F 2" in line, line
    assert "missed 0" in t.stderr.read()


@pytest.mark.usefixtures("binaries")
def test_the_subscriber_example_asks_a_cpp_publisher_for_last_values(procs):
    pub, ep, pid = cpp_publisher(procs, "weather/oslo", "Forecast", "snow", "--count", "2",
                                 "--retain")
    assert "retaining" in procs.line(type("S", (), {"stdout": pub.stderr})(), 10)
    sub = procs.start([sys.executable, os.path.join(EXAMPLES, "subscriber.py"), "weather/",
                       "--last", "--connect", ep, "--count", "1"])
    assert sub.wait(15) == 0
    assert sub.stdout.read().split() == ["weather/oslo", f"{pid:016x}", "2(retained)",
                                         "Forecast", "snow"]
    assert "received 1, missed 0" in sub.stderr.read()
