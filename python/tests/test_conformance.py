"""The Python peer against a bare ZeroMQ socket that plays the other side byte by byte:
the rules of protocol.md section 11 that apply to a peer (numbers in the test names)."""
import threading
import time

import pytest
import zmq

import zmesh
from zmesh import codec
from zmesh.codec import EC

from conftest import wait_for


def error_of(f):
    return codec.decode_code_text(f[-1], False)[0]


def reject_of(f):
    return codec.decode_code_text(f[-1], True)[0]


@pytest.fixture
def echo(peers):
    p = peers.make("echo", heartbeat_interval=0.1)
    p.on("Echo", lambda m: m.payload)
    return p


def test_rule7_correlation_ids_come_back_unchanged_in_any_order(echo, raws):
    r = raws()
    r.greet(echo.endpoint)
    ids = [7, 123456789012345, 3, 2**64 - 1, 42]
    for i in ids:
        r.send([], codec.REQUEST, i, str(i).encode(), type_=b"Echo")
    got = {}
    while len(got) < len(ids):
        h, f = r.recv_kind(codec.REPLY)
        assert h is not None
        got[h.correlation_id] = f[-1]
    assert got == {i: str(i).encode() for i in ids}


def test_rule7_many_threads_many_requests_all_match(echo, peers):
    c = peers.make("client")
    bad = []

    def worker(k):
        fs = [(i, c.request_future(echo.endpoint, "Echo", f"{k}-{i}")) for i in range(200)]
        bad.extend(i for i, f in fs if f.result(10).payload != f"{k}-{i}".encode())
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert bad == []


def test_rule8_unknown_flag_bits_are_ignored(echo, raws):
    r = raws()
    r.greet(echo.endpoint)
    r.send([], codec.REQUEST, 5, b"x", type_=b"Echo", flags=0xFFFFFFFE)
    h, f = r.recv_kind(codec.REPLY)
    assert h.correlation_id == 5 and f[-1] == b"x"


def test_rule9_no_reply_requests_get_no_reply_and_no_error(echo, raws):
    ran = threading.Event()
    echo.on("Mark", lambda m: ran.set())
    r = raws()
    r.greet(echo.endpoint)
    r.send([], codec.REQUEST, 5, b"x", type_=b"Echo", flags=codec.FLAG_NO_REPLY)
    r.send([], codec.REQUEST, 6, b"x", type_=b"Nope", flags=codec.FLAG_NO_REPLY)
    r.send([], codec.REQUEST, 7, b"x", type_=b"Mark", flags=codec.FLAG_NO_REPLY)
    assert ran.wait(2)
    h, _ = r.recv_kind(codec.REPLY, timeout=0.3)
    assert h is None
    h, _ = r.recv_kind(codec.ERROR, timeout=0.1)
    assert h is None


def test_rule10_hello_comes_first_and_carries_who_we_are(peers, raws):
    a = raws(zmq.ROUTER)
    port = a.s.bind_to_random_port("tcp://127.0.0.1")
    p = peers.make("greeter", services=["svc"])
    fut = p.connect_future(f"tcp://127.0.0.1:{port}")
    ident, hb, pl = a.recv()
    h, why = codec.decode_header(hb)
    assert why is None and h.kind == codec.HELLO and h.version == 1
    assert h.sender_id == p.id and h.sender_session == p.session and h.correlation_id != 0
    g, why = codec.decode_hello(pl, h)
    assert why is None
    assert (g.info.id, g.info.name, g.info.endpoints, g.info.services) == \
        (p.id, "greeter", [p.endpoint], ["svc"])
    assert 10 <= g.interval_ms <= 60000
    a.s.send_multipart([ident, a.hdr(codec.WELCOME, h.correlation_id),
                        codec.encode_welcome(a.info(), 1000)])
    assert fut.result(2) == a.id


def test_rule11_newer_offers_are_welcomed_at_the_highest_common_version(echo, raws):
    r = raws()
    r.s.connect(echo.endpoint)
    corr = r.hello(version=3, min_version=1)
    h, f = r.recv_kind(codec.WELCOME)
    assert h.correlation_id == corr and codec.decode_welcome(f[-1])[0].version == 1


def test_rule12_unsupported_versions_are_rejected_not_ignored(echo, raws):
    r = raws()
    r.s.connect(echo.endpoint)
    r.hello(version=3, min_version=2)
    h, f = r.recv_kind(codec.REJECT)
    assert reject_of(f)[0] == EC["UnsupportedVersion"]
    r.hello(hversion=2)
    h, f = r.recv_kind(codec.REJECT)
    assert reject_of(f)[0] == EC["UnsupportedVersion"]


def fake_acceptor(raws, answer):
    """A ROUTER that answers the first Hello with answer(ident, hdr) frames."""
    a = raws(zmq.ROUTER)
    port = a.s.bind_to_random_port("tcp://127.0.0.1")

    def run():
        f = a.recv(3)
        if f:
            h, _ = codec.decode_header(f[1])
            a.s.send_multipart([f[0], *answer(a, h)])
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return f"tcp://127.0.0.1:{port}"


def test_rule13_a_welcome_outside_the_offered_range_fails_the_greeting(peers, raws):
    ep = fake_acceptor(raws, lambda a, h: [a.hdr(codec.WELCOME, h.correlation_id),
                                           codec.encode_welcome(a.info(), 1000, version=2)])
    p = peers.make("c")
    with pytest.raises(zmesh.UnsupportedVersion):
        p.connect(ep)


def test_rule14_undecodable_is_malformed_and_bad_values_are_bad_request(echo, raws):
    r = raws()
    r.s.connect(echo.endpoint)
    r.send([], codec.HELLO, r.next_corr(), b"\x01\x02garbage")
    assert reject_of(r.recv_kind(codec.REJECT)[1])[0] == EC["Malformed"]
    r.s.send_multipart([r.hdr(codec.HELLO, r.next_corr()),
                        codec.encode_hello(r.info(name=""), 1000)])
    assert reject_of(r.recv_kind(codec.REJECT)[1])[0] == EC["BadRequest"]
    r.s.send_multipart([r.hdr(codec.HELLO, r.next_corr()),
                        codec.encode_hello(r.info(id=r.id + 2), 1000)])  # PeerInfo != header
    assert reject_of(r.recv_kind(codec.REJECT)[1])[0] == EC["BadRequest"]


def test_rule15_zero_interval_is_refused_both_ways(echo, peers, raws):
    r = raws()
    r.s.connect(echo.endpoint)
    r.hello(interval=0)
    assert reject_of(r.recv_kind(codec.REJECT)[1])[0] == EC["BadRequest"]
    r.hello(interval=60001)
    assert reject_of(r.recv_kind(codec.REJECT)[1])[0] == EC["BadRequest"]
    ep = fake_acceptor(raws, lambda a, h: [a.hdr(codec.WELCOME, h.correlation_id),
                                           codec.encode_welcome(a.info(), 0)])
    with pytest.raises(zmesh.Malformed):
        peers.make("c").connect(ep)


def test_rule16_hello_with_our_own_id_is_self_connect(echo, raws):
    r = raws(id=echo.id)
    r.s.connect(echo.endpoint)
    r.hello()
    assert reject_of(r.recv_kind(codec.REJECT)[1])[0] == EC["SelfConnect"]
    with pytest.raises(zmesh.SelfConnect):
        echo.connect(echo.endpoint)


def test_rule17_duplicate_id_refused_while_live_and_a_restart_once_suspect(echo, raws):
    old = raws(name="old")
    old.greet(echo.endpoint, interval=100)
    fut = echo.request_future(old.id, "Hang", b"", timeout=10)  # pending on the old session
    h, _ = old.recv_kind(codec.REQUEST)
    assert h is not None
    new = raws(id=old.id, name="new")
    new.s.connect(echo.endpoint)
    new.hello(interval=100)
    assert reject_of(new.recv_kind(codec.REJECT)[1])[0] == EC["DuplicateId"]
    # the old session falls silent: suspect after 2 W = 200 ms, then a new session takes over
    time.sleep(0.35)
    new.hello(interval=100)
    assert new.recv_kind(codec.WELCOME)[0] is not None
    with pytest.raises(zmesh.PeerGone):
        fut.result(1)
    # the old session's identity is forgotten: its next Request gets UnknownPeer
    old.send([], codec.REQUEST, 9, b"", type_=b"Echo")
    assert error_of(old.recv_kind(codec.ERROR)[1])[0] == EC["UnknownPeer"]


def test_rule18_a_second_hello_of_the_same_session_changes_nothing(echo, raws):
    r = raws()
    r.greet(echo.endpoint, interval=100)
    fut = echo.request_future(r.id, "Slow", b"q", timeout=5)
    h, _ = r.recv_kind(codec.REQUEST)
    r.hello(interval=100)
    assert r.recv_kind(codec.WELCOME)[0] is not None
    r.send([], codec.REPLY, h.correlation_id, b"answer")
    assert fut.result(2).payload == b"answer"


def test_rule19_traffic_waits_for_the_welcome_and_leaves_in_order(peers, raws):
    a = raws(zmq.ROUTER)
    port = a.s.bind_to_random_port("tcp://127.0.0.1")
    p = peers.make("c")
    ep = f"tcp://127.0.0.1:{port}"
    futs = [p.request_future(ep, "R", str(i)) for i in range(3)]
    p.send(ep, "M", "m")
    ident, hb, _ = a.recv()
    h, _ = codec.decode_header(hb)
    assert h.kind == codec.HELLO
    assert a.recv(0.3) is None  # nothing before the Welcome
    a.s.send_multipart([ident, a.hdr(codec.WELCOME, h.correlation_id),
                        codec.encode_welcome(a.info(), 1000)])
    seen = []
    while len(seen) < 4:
        f = a.recv()
        x, _ = codec.decode_header(f[1])
        if x.kind in (codec.REQUEST, codec.MESSAGE):
            seen.append((x.kind, f[2]))
            if x.kind == codec.REQUEST:
                a.s.send_multipart([ident, a.hdr(codec.REPLY, x.correlation_id), f[2]])
    assert seen == [(4, b"0"), (4, b"1"), (4, b"2"), (7, b"m")]
    assert [f.result(2).payload for f in futs] == [b"0", b"1", b"2"]


def test_rule19_queued_requests_fail_when_the_greeting_fails(peers, raws):
    ep = fake_acceptor(raws, lambda a, h: [a.hdr(codec.REJECT, h.correlation_id),
                                           codec.encode_reject(EC["DuplicateId"], "taken")])
    f = peers.make("c").request_future(ep, "R", b"")
    with pytest.raises(zmesh.DuplicateId):
        f.result(3)


def test_rule20_ungreeted_request_and_ping_get_unknown_peer(echo, raws):
    r = raws()
    r.s.connect(echo.endpoint)
    r.send([], codec.MESSAGE, 0, b"m", type_=b"Echo")          # dropped, unanswered
    r.send([], codec.REQUEST, 11, b"x", type_=b"Echo")
    h, f = r.recv_kind(codec.ERROR)
    assert h.correlation_id == 11 and error_of(f)[0] == EC["UnknownPeer"]
    r.send([], codec.PING, 12, codec.encode_ping(5, 6))
    h, f = r.recv_kind(codec.ERROR)
    assert h.correlation_id == 12 and error_of(f)[0] == EC["UnknownPeer"]
    assert r.recv(0.2) is None


def test_rule21_a_reject_fails_the_greeting_with_its_code_and_reason(peers, raws):
    ep = fake_acceptor(raws, lambda a, h: [a.hdr(codec.REJECT, h.correlation_id),
                                           codec.encode_reject(EC["ShuttingDown"], "going away")])
    with pytest.raises(zmesh.ShuttingDown, match="going away"):
        peers.make("c").connect(ep)


def test_rule22_expired_request_is_skipped_and_answered_deadline_exceeded(echo, raws):
    ran = threading.Event()
    echo.on("Work", lambda m: ran.set())
    r = raws()
    r.greet(echo.endpoint)
    r.send([], codec.REQUEST, 3, b"", type_=b"Work", deadline_ms=int(time.time() * 1000) - 10)
    h, f = r.recv_kind(codec.ERROR)
    assert h.correlation_id == 3 and error_of(f)[0] == EC["DeadlineExceeded"]
    assert not ran.is_set()


def test_rule23_no_handler_and_handler_failure(echo, raws, peers):
    def boom(m):
        raise RuntimeError("it broke")
    echo.on("Boom", boom)
    r = raws()
    r.greet(echo.endpoint)
    r.send([], codec.REQUEST, 3, b"", type_=b"Nope")
    assert error_of(r.recv_kind(codec.ERROR)[1]) == (EC["NoHandler"], "no handler for 'Nope'")
    r.send([], codec.REQUEST, 4, b"", type_=b"Boom")
    assert error_of(r.recv_kind(codec.ERROR)[1]) == (EC["HandlerFailed"], "it broke")
    c = peers.make("c")
    with pytest.raises(zmesh.NoHandler):
        c.request(echo.endpoint, "Nope")
    with pytest.raises(zmesh.RemoteError, match="it broke"):
        c.request(echo.endpoint, "Boom")
    assert c.request(echo.endpoint, "Echo", "still").payload == b"still"  # the worker survived


def test_rule24_unmatched_answers_are_counted_and_dropped(peers, raws):
    a = raws(zmq.ROUTER)
    port = a.s.bind_to_random_port("tcp://127.0.0.1")
    p = peers.make("c")
    fut = p.connect_future(f"tcp://127.0.0.1:{port}")
    ident, hb, _ = a.recv()
    h, _ = codec.decode_header(hb)
    a.s.send_multipart([ident, a.hdr(codec.WELCOME, h.correlation_id),
                        codec.encode_welcome(a.info(), 1000)])
    fut.result(2)
    a.s.send_multipart([ident, a.hdr(codec.REPLY, 987654), b"late"])
    a.s.send_multipart([ident, a.hdr(codec.ERROR, 987655), codec.encode_error(4, "x")])
    assert wait_for(lambda: p.stats().get("unmatched", 0) >= 2, 2)
    with pytest.raises(zmesh.Timeout) as timed_out:
        p.request(a.id, "R", b"", timeout=0.2)  # times out; its late reply is unmatched
    # The engine's own Timeout, which names the request, not a generic one from the wait.
    assert "request 'R'" in str(timed_out.value), str(timed_out.value)
    f = a.recv()
    x, _ = codec.decode_header(f[1])
    while x.kind != codec.REQUEST:
        f = a.recv()
        x, _ = codec.decode_header(f[1])
    a.s.send_multipart([ident, a.hdr(codec.REPLY, x.correlation_id), b"too late"])
    assert wait_for(lambda: p.stats().get("unmatched", 0) >= 3, 2)


def test_rule26_pings_per_interval_and_pongs_echo(echo, raws):
    r = raws()
    r.greet(echo.endpoint, interval=1000)
    r.send([], codec.PING, 77, codec.encode_ping(0xABCDEF, 123))
    h, f = r.recv_kind(codec.PONG)
    assert h.correlation_id == 77 and codec.decode_ping(f[-1])[0] == (0xABCDEF, 123)
    pings, end = 0, time.monotonic() + 1.0
    while time.monotonic() < end:
        f = r.recv(end - time.monotonic())
        if f and codec.decode_header(f[0])[0].kind == codec.PING:
            pings += 1
            r.send([], codec.PONG, codec.decode_header(f[0])[0].correlation_id, f[1])
    assert pings >= 8  # echo announced 100 ms


def test_rule26_27_rtt_is_measured_and_liveness_honours_the_announced_interval(peers, raws):
    p = peers.make("c", heartbeat_interval=0.05, heartbeat_timeout=0.2)
    r = raws()
    a = raws(zmq.ROUTER)
    port = a.s.bind_to_random_port("tcp://127.0.0.1")
    fut = p.connect_future(f"tcp://127.0.0.1:{port}")
    ident, hb, _ = a.recv()
    h, _ = codec.decode_header(hb)
    # it announces 400 ms: W = 400 ms, suspect after 800 ms, gone after max(T, 3 W) = 1.2 s
    a.s.send_multipart([ident, a.hdr(codec.WELCOME, h.correlation_id),
                        codec.encode_welcome(a.info(), 400)])
    fut.result(2)
    t0 = time.monotonic()
    req = p.request_future(a.id, "Hang", b"", timeout=10)
    assert wait_for(lambda: p.connections()[0]["suspect"], 2)
    assert time.monotonic() - t0 >= 0.75
    with pytest.raises(zmesh.PeerGone):
        req.result(3)
    took = time.monotonic() - t0
    assert 1.15 <= took < 2.5, took


def test_rule26_rtt_measured(echo, peers):
    c = peers.make("c", heartbeat_interval=0.05)
    c.connect(echo.endpoint)
    assert wait_for(lambda: c.connections()[0]["rtt"] > 0, 2)


def test_rule28_bye_fails_what_is_pending_at_once(echo, raws):
    r = raws()
    r.greet(echo.endpoint)
    fut = echo.request_future(r.id, "Hang", b"", timeout=10)
    r.recv_kind(codec.REQUEST)
    t0 = time.monotonic()
    r.send([], codec.BYE)
    with pytest.raises(zmesh.PeerGone):
        fut.result(2)
    assert time.monotonic() - t0 < 0.5


def raw_pub(raws):
    pub = raws(zmq.XPUB)
    pub.s.setsockopt(zmq.XPUB_VERBOSE, 1)
    port = pub.s.bind_to_random_port("tcp://127.0.0.1")
    return pub, f"tcp://127.0.0.1:{port}"


def serve_syncs(pub, stop):
    def run():
        while not stop.is_set():
            f = pub.recv(0.05)
            if f and f[0][:1] == b"\x01" and f[0][1:].startswith(b"\x00zmesh.sync."):
                pub.s.send_multipart([f[0][1:], pub.hdr(codec.SYNC), b""])
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_rule29_sequences_gaps_are_counted_exactly_and_a_new_session_resets(peers, raws):
    pub, ep = raw_pub(raws)
    stop = threading.Event()
    serve_syncs(pub, stop)
    p = peers.make("sub")
    p.subscribe_to(ep)
    got, gaps = [], []
    p.on_gap(lambda pid, topic, n: gaps.append((topic, n)))
    p.subscribe("", lambda m: got.append((m.topic, m.sequence)))
    stop.set()
    time.sleep(0.06)

    def send(topic, seq, session=None):
        pub.s.send_multipart([topic, pub.hdr(codec.PUBLISH, 0, b"T", sequence=seq,
                                             session=session), b"x"])
    for s in (5, 6, 9, 10):       # first seen starts tracking whatever its number: 2 missed
        send(b"a", s)
    for s in (1, 2):              # per topic: no bogus gap from topic a
        send(b"b", s)
    send(b"a", 10)                # at or below: delivered, counts nothing
    send(b"a", 1, session=pub.session + 1)  # restart: tracking starts again, nothing missed
    send(b"a", 2, session=pub.session + 1)
    assert wait_for(lambda: len(got) == 9, 3)
    assert gaps == [(b"a", 2)]
    st = p.publishers()[pub.id]
    assert st["missed"] == 2 and st["received"] == 9


def test_rule29_we_number_per_topic_from_one(peers, raws):
    p = peers.make("pub")
    sub = raws(zmq.SUB)
    sub.s.setsockopt(zmq.SUBSCRIBE, b"")
    sub.s.connect(p.pub_endpoint)
    time.sleep(0.2)  # (raw socket: no sync available on this side of the test)
    for t in (b"x", b"y", b"x", b"x", b"y"):
        p.publish(t, "T", b"")
    seqs = []
    while len(seqs) < 5:
        f = sub.recv()
        assert f is not None
        seqs.append((f[0], codec.decode_header(f[1])[0].sequence))
    assert seqs == [(b"x", 1), (b"y", 1), (b"x", 2), (b"x", 3), (b"y", 2)]


def test_rule30_every_marker_subscription_gets_one_sync_on_that_topic(peers, raws):
    p = peers.make("pub")
    sub = raws(zmq.SUB)
    sub.s.connect(p.pub_endpoint)
    for n in (1, 2):
        m = codec.marker_topic(sub.id, n)
        sub.s.setsockopt(zmq.SUBSCRIBE, m)
        f = sub.recv(2)
        h, _ = codec.decode_header(f[1])
        assert f[0] == m and h.kind == codec.SYNC and h.sender_id == p.id and f[2] == b""
        assert h.sequence == 0 and h.sender_session == p.session
        sub.s.setsockopt(zmq.UNSUBSCRIBE, m)


def test_rule30_sync_makes_the_first_message_arrive(peers):
    pub = peers.make("pub")
    for i in range(5):
        s = peers.make(f"sub{i}")
        got = []
        s.subscribe_to(pub.pub_endpoint)
        s.subscribe("t", lambda m, got=got: got.append(m.payload))  # returns once in effect
        pub.publish("t", "T", b"first")
        assert wait_for(lambda: got == [b"first"], 2)


def test_rule31_reserved_topics(peers, raws):
    p = peers.make("p")
    with pytest.raises(zmesh.InvalidArgument):
        p.publish(b"\x00x", "T", b"")
    with pytest.raises(zmesh.InvalidArgument):
        p.subscribe(b"\x00", lambda m: None)
    pub, ep = raw_pub(raws)
    stop = threading.Event()
    serve_syncs(pub, stop)
    got = []
    p.subscribe_to(ep)
    p.subscribe("", lambda m: got.append(m.topic))
    stop.set()
    time.sleep(0.06)
    pub.s.send_multipart([b"\x00secret", pub.hdr(codec.PUBLISH, 0, b"T", sequence=1), b""])
    pub.s.send_multipart([b"open", pub.hdr(codec.PUBLISH, 0, b"T", sequence=1), b""])
    assert wait_for(lambda: got == [b"open"], 2)
    time.sleep(0.1)
    assert got == [b"open"]


def test_rule4_malformed_frames_are_dropped_without_harm(echo, raws, peers):
    r = raws()
    r.greet(echo.endpoint)
    for junk in ([b"x"], [b"a", b"b", b"c"], [b"\x00" * 30, b""], [b"y" * 2000, b""]):
        r.s.send_multipart(junk)
    c = peers.make("c")
    assert c.request(echo.endpoint, "Echo", "ok").payload == b"ok"
    assert wait_for(lambda: echo.stats().get("dropped", 0) >= 4, 2)
    r.send([], codec.REQUEST, 9, b"z", type_=b"Echo")
    assert r.recv_kind(codec.REPLY)[1][-1] == b"z"


def test_rule6_too_large_request_is_answered_too_large(echo, raws):
    r = raws()
    r.greet(echo.endpoint)
    r.send([], codec.REQUEST, 9, b"\x00" * ((16 << 20) + 1), type_=b"Echo")
    h, f = r.recv_kind(codec.ERROR, timeout=5)
    assert h.correlation_id == 9 and error_of(f)[0] == EC["TooLarge"]


def test_rule40_unknown_error_code_is_remote_error_keeping_the_code(peers, raws):
    a = raws(zmq.ROUTER)
    port = a.s.bind_to_random_port("tcp://127.0.0.1")
    p = peers.make("c")
    fut = p.request_future(f"tcp://127.0.0.1:{port}", "R", b"")
    ident, hb, _ = a.recv()
    h, _ = codec.decode_header(hb)
    a.s.send_multipart([ident, a.hdr(codec.WELCOME, h.correlation_id),
                        codec.encode_welcome(a.info(), 1000)])
    while True:
        f = a.recv()
        x, _ = codec.decode_header(f[1])
        if x.kind == codec.REQUEST:
            break
    a.s.send_multipart([ident, a.hdr(codec.ERROR, x.correlation_id), codec.encode_error(77, "v9")])
    with pytest.raises(zmesh.RemoteError) as e:
        fut.result(2)
    assert e.value.code == 77


def test_unknown_peer_error_makes_us_greet_again_and_resend(peers, raws):
    a = raws(zmq.ROUTER)
    port = a.s.bind_to_random_port("tcp://127.0.0.1")
    p = peers.make("c")
    fut = p.request_future(f"tcp://127.0.0.1:{port}", "R", b"payload")
    hellos = 0
    while True:
        ident, hb, pl = a.recv()
        x, _ = codec.decode_header(hb)
        if x.kind == codec.HELLO:
            hellos += 1
            a.s.send_multipart([ident, a.hdr(codec.WELCOME, x.correlation_id),
                                codec.encode_welcome(a.info(), 1000)])
        elif x.kind == codec.REQUEST and hellos == 1:
            a.s.send_multipart([ident, a.hdr(codec.ERROR, x.correlation_id),
                                codec.encode_error(EC["UnknownPeer"], "who?")])
        elif x.kind == codec.REQUEST:
            a.s.send_multipart([ident, a.hdr(codec.REPLY, x.correlation_id), pl])
            break
    assert fut.result(2).payload == b"payload" and hellos == 2


def test_asyncio_request(echo, peers):
    import asyncio
    c = peers.make("c")

    async def main():
        rs = await asyncio.gather(*(c.arequest(echo.endpoint, "Echo", str(i)) for i in range(50)))
        return [r.payload for r in rs]
    assert asyncio.run(main()) == [str(i).encode() for i in range(50)]


def test_rule17_a_welcome_naming_another_live_session_of_a_known_id_fails_duplicate_id(
        peers, raws):
    p = peers.make("c", heartbeat_interval=0.5)
    live = raws(name="live")
    live.greet(p.endpoint, interval=500)
    a = raws(zmq.ROUTER, id=live.id, name="impostor")  # same id, another session
    port = a.s.bind_to_random_port("tcp://127.0.0.1")
    fut = p.connect_future(f"tcp://127.0.0.1:{port}")
    ident, hb, _ = a.recv()
    h, _ = codec.decode_header(hb)
    a.s.send_multipart([ident, a.hdr(codec.WELCOME, h.correlation_id),
                        codec.encode_welcome(a.info(), 500)])
    with pytest.raises(zmesh.DuplicateId):
        fut.result(2)
    f = a.recv(2)
    assert f is not None and codec.decode_header(f[1])[0].kind == codec.BYE


def test_stop_fails_what_is_pending_with_shutting_down_and_says_bye(raws):
    p = zmesh.Peer("stopper")
    r = raws()
    r.greet(p.endpoint)
    fut = p.request_future(r.id, "Hang", b"", timeout=10)
    r.recv_kind(codec.REQUEST)
    p.stop()
    with pytest.raises(zmesh.ShuttingDown):
        fut.result(1)
    h, _ = r.recv_kind(codec.BYE)
    assert h is not None
    with pytest.raises(zmesh.NotRunning):
        p.request(r.id, "X")


def test_rule25_a_requester_that_does_not_read_is_refused_overloaded(peers, raws):
    calls = []
    p = peers.make("busy", hwm=50)  # at most 50 unread answers wait for one requester
    p.on("Echo", lambda m: calls.append(1) or m.payload)
    r = raws()
    r.s.setsockopt(zmq.RCVHWM, 1)
    r.s.setsockopt(zmq.RCVBUF, 4096)
    r.greet(p.endpoint)
    n = 2000
    big = b"x" * 4096  # 8 MB of answers if they were all kept
    for i in range(n):
        r.send([], codec.REQUEST, 10 + i, big, type_=b"Echo")
    assert wait_for(lambda: p.stats().get("overloaded", 0) > 0, timeout=20), p.stats()
    # Another requester is served meanwhile, and the handler did not run for every one.
    c = peers.make("c")
    assert c.request(p.endpoint, "Echo", "still", timeout=5).payload == b"still"
    assert wait_for(lambda: p.stats().get("overloaded", 0) + len(calls) >= n, timeout=20), p.stats()
    assert len(calls) < n
    # It reads what waits for it; its next request is refused Overloaded (the refusal gets
    # through: it reads again), and the one after that is served.
    while r.recv(0.5) is not None:
        pass
    r.send([], codec.REQUEST, 5, b"a", type_=b"Echo")
    h, f = r.recv_kind(codec.ERROR, timeout=5)
    assert h is not None and h.correlation_id == 5 and error_of(f)[0] == EC["Overloaded"]
    r.send([], codec.REQUEST, 6, b"b", type_=b"Echo")
    h, f = r.recv_kind(codec.REPLY, timeout=5)
    assert h is not None and h.correlation_id == 6 and f[-1] == b"b"
