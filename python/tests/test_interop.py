"""The Python peer against the real C++ binaries (build/tools/zmesh, build/broker/zmesh-broker),
in both directions."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import zmq

import zmesh
from zmesh import codec
from zmesh.codec import EC

from conftest import BROKER_BIN, EXAMPLES, ZMESH_BIN, need_binaries, wait_for

pytestmark = pytest.mark.usefixtures("binaries")


@pytest.fixture
def binaries():
    need_binaries()


def cpp_reply(procs, *args, type_="Echo"):
    p = procs.start([ZMESH_BIN, "reply", type_, *args])
    line = procs.line(p, drain=True)  # it prints a line per request
    m = re.match(r"listening on (\S+) as (\S+) \(id ([0-9a-f]{16})\)", line)
    assert m, line
    return p, m.group(1), int(m.group(3), 16)


def zmesh_cmd(*args, timeout=15):
    return subprocess.run([ZMESH_BIN, *args], capture_output=True, text=True, timeout=timeout)


def py_service(procs, *args):
    p = procs.start([sys.executable, os.path.join(EXAMPLES, "echo_service.py"), *args])
    line = procs.line(p, 10)
    m = re.match(r"listening on (\S+) as (\S+) \(id ([0-9a-f]{16})\)", line)
    assert m, line
    return p, m.group(1)


# -- Python client -> C++ responder ---------------------------------------------------------
def test_python_requests_cpp_by_endpoint_name_and_service(procs, peers):
    brk = procs.broker()
    _, ep, pid = cpp_reply(procs, "--echo", "--name", "echo-cpp", "--service", "echo",
                           "--broker", brk)
    c = peers.make("py-client", broker=brk)
    r = c.request(ep, "Echo", b"by endpoint")
    assert (r.payload, r.peer, r.name) == (b"by endpoint", pid, "echo-cpp")
    assert c.request("echo-cpp", "Echo", "by name").payload == b"by name"
    assert c.request_service("echo", "Echo", "by service").payload == b"by service"
    assert c.request(pid, "Echo", "by id").payload == b"by id"


def test_python_pipelines_a_thousand_requests_to_cpp_all_matched(procs, peers):
    _, ep, _ = cpp_reply(procs, "--echo")
    c = peers.make("py-client")
    futs = [c.request_future(ep, "Echo", f"req-{i}") for i in range(1000)]
    assert [f.result(20).payload for f in futs] == [f"req-{i}".encode() for i in range(1000)]


def test_python_gets_cpp_errors_no_handler_too_large_and_deadline(procs, peers, raws):
    _, ep, _ = cpp_reply(procs, "--echo")
    c = peers.make("py-client")
    with pytest.raises(zmesh.NoHandler):
        c.request(ep, "Nope", b"")
    t0 = time.monotonic()
    with pytest.raises(zmesh.TooLarge):
        c.request(ep, "Echo", b"\x00" * ((16 << 20) + 1))
    assert time.monotonic() - t0 < 1
    # a request whose deadline has passed is skipped by the C++ responder: DeadlineExceeded
    r = raws()
    r.greet(ep)
    r.send([], codec.REQUEST, 5, b"x", type_=b"Echo", deadline_ms=int(time.time() * 1000) - 5)
    h, f = r.recv_kind(codec.ERROR)
    assert h.correlation_id == 5 and codec.decode_code_text(f[-1], False)[0][0] == \
        EC["DeadlineExceeded"]
    with pytest.raises(zmesh.Timeout):
        c.request(ep, "Echo", b"", timeout=0.0001)


def test_python_handler_failure_text_reaches_cpp_as_remote_error(procs, peers):
    _, ep, _ = cpp_reply(procs, "--command", "echo broken >&2; exit 3", type_="Fail")
    c = peers.make("py-client")
    with pytest.raises(zmesh.RemoteError, match="broken"):
        c.request(ep, "Fail", b"")


def test_cpp_responder_killed_fails_python_request_within_the_heartbeat_timeout(procs, peers):
    p, ep, _ = cpp_reply(procs, "--command", "sleep 30", type_="Slow")
    c = peers.make("py-client")
    c.connect(ep)
    fut = c.request_future(ep, "Slow", b"", timeout=20)
    time.sleep(0.3)
    t0 = time.monotonic()
    os.kill(p.pid, signal.SIGKILL)
    with pytest.raises(zmesh.PeerGone):
        fut.result(10)
    assert time.monotonic() - t0 < 5  # gone after max(T=3 s, 3 W=1.5 s), not the 20 s timeout


# -- C++ client -> Python responder ---------------------------------------------------------
def test_cpp_requests_python_by_endpoint_name_and_service(procs, peers):
    brk = procs.broker()
    s = peers.make("upper-py", services=["upper"], broker=brk)
    s.on("Upper", lambda m: m.payload.upper())
    assert s.wait_registered(5)
    r = zmesh_cmd("request", s.endpoint, "Upper", "endpoint")
    assert (r.returncode, r.stdout) == (0, "ENDPOINT\n"), r.stderr
    r = zmesh_cmd("request", "--broker", brk, "upper-py", "Upper", "name")
    assert (r.returncode, r.stdout) == (0, "NAME\n"), r.stderr
    r = zmesh_cmd("request", "--broker", brk, "--service", "upper", "Upper", "svc",
                  "--format", "json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["payload"] == "SVC" and j["name"] == "upper-py" and int(j["from"], 16) == s.id


def test_cpp_gets_python_errors(procs, peers, tmp_path):
    s = peers.make("svc")
    def boom(m):
        raise ValueError("python says no")
    s.on("Boom", boom)
    r = zmesh_cmd("request", s.endpoint, "Nope", "x")
    assert r.returncode == 5 and "handler" in r.stderr, r.stderr
    r = zmesh_cmd("request", s.endpoint, "Boom", "x")
    assert r.returncode == 5 and "python says no" in r.stderr, r.stderr
    big = tmp_path / "big"
    big.write_bytes(b"\x00" * ((16 << 20) + 1))
    r = zmesh_cmd("request", s.endpoint, "Boom", f"@{big}")
    assert r.returncode == 6, r.stderr


def test_python_service_example_killed_fails_the_cpp_request(procs):
    p, ep = py_service(procs)
    r = zmesh_cmd("request", ep, "Upper", "hello")
    assert r.stdout == "HELLO\n"
    req = procs.start([ZMESH_BIN, "request", ep, "Sleep", "30", "--timeout", "20s"])
    time.sleep(1.0)
    t0 = time.monotonic()
    os.kill(p.pid, signal.SIGKILL)
    rc = req.wait(15)
    assert rc == 4, req.stderr.read()
    assert time.monotonic() - t0 < 6


def test_cpp_pipelined_requests_to_python(procs, peers):
    s = peers.make("svc")
    s.on("Echo", lambda m: m.payload)
    # several C++ clients at once, each with its own connection
    ps = [procs.start([ZMESH_BIN, "request", s.endpoint, "Echo", f"c{i}"]) for i in range(8)]
    assert [(p.wait(15), p.stdout.read()) for p in ps] == [(0, f"c{i}\n") for i in range(8)]


# -- broadcasts -------------------------------------------------------------------------------
def test_python_subscribes_to_a_cpp_publisher_with_sync_and_no_gaps(procs, peers):
    # --interval: the publisher must outlive our sync (it starts on our first subscription,
    # before the sync's second round, and exits after its last message)
    pub = procs.start([ZMESH_BIN, "publish", "prices/eur", "Price", "1.08", "--count", "200",
                       "--interval", "5ms", "--wait-subscribers", "1", "--timeout", "10s"])
    m = re.match(r"publishing on (\S+)", procs.line(pub))
    got = []
    s = peers.make("py-sub", bind="")
    s.subscribe_to(m.group(1))
    s.subscribe("prices/", lambda msg: got.append((msg.topic, msg.sequence, msg.payload)))
    assert pub.wait(15) == 0
    assert wait_for(lambda: len(got) == 200, 5)
    assert got == [(b"prices/eur", i, b"1.08") for i in range(1, 201)]
    (st,) = s.publishers().values()
    assert st["missed"] == 0


@pytest.mark.timeout(60)
def test_python_counts_gaps_from_a_cpp_publisher_exactly(procs, peers):
    """A subscriber that falls behind a flooding publisher loses broadcasts at the
    publisher's high-water mark; what it counts as missed plus what it received is exactly
    the last sequence number it saw. (Up to three attempts: on a loaded machine the
    publisher may itself be too slow to overflow its queue, and then nothing is lost.)"""
    for attempt in range(3):
        pub = procs.start([ZMESH_BIN, "publish", "t", "T", "x" * 500, "--count", "0",
                           "--wait-subscribers", "1", "--timeout", "10s"])
        m = re.match(r"publishing on (\S+)", procs.line(pub))
        got, gaps = [], []
        s = peers.make(f"py-sub-{attempt}", bind="", hwm=100, workers=1, worker_queue_depth=10)

        def slow(msg, got=got):
            if not got:
                time.sleep(2.0)  # fall behind: ZeroMQ drops at the publisher's HWM
            got.append(msg.sequence)
        s.on_gap(lambda pid, topic, n, gaps=gaps: gaps.append(n))
        s.subscribe_to(m.group(1))
        s.subscribe("t", slow)
        time.sleep(3.0)
        pub.send_signal(signal.SIGTERM)
        rc = pub.wait(10)
        assert rc == 0, (rc, pub.stderr.read())

        def settled(got=got):
            a = len(got)
            time.sleep(0.3)
            return a == len(got)
        assert wait_for(settled, 20)
        (st,) = s.publishers().values()  # a snapshot; a straggler may still come in
        n = st["received"]
        assert wait_for(lambda: len(got) >= n, 5)
        # exact accounting, whatever was lost: the n-th broadcast handled carries the
        # sequence number n + missed
        assert n + st["missed"] == got[n - 1]
        assert sum(gaps) >= st["missed"]  # gap callbacks run in order with the broadcasts
        assert got == sorted(got)
        s.stop()
        if st["missed"] > 0:
            return
    pytest.fail("no broadcast was lost in three attempts: the gap count was not exercised")


def test_cpp_subscribes_to_a_python_publisher(procs, peers):
    p = peers.make("py-pub")
    sub = procs.start([ZMESH_BIN, "subscribe", "news/", "--connect", p.pub_endpoint, "--count",
                       "50", "--format", "json"])
    # the C++ subscriber prints "subscribed to ..." on stderr once its sync is done
    line = procs.line(type("S", (), {"stdout": sub.stderr})(), 10)
    assert "subscribed" in line, line
    for i in range(50):
        p.publish("news/x", "News", f"n{i}")
    assert sub.wait(10) == 0
    rows = [json.loads(l) for l in sub.stdout.read().splitlines()]
    assert [(r["topic"], r["sequence"], r["payload"]) for r in rows] == \
        [("news/x", i + 1, f"n{i}") for i in range(50)]
    assert all(int(r["publisher"], 16) == p.id for r in rows)


def test_subscriber_example_follows_a_cpp_publisher(procs):
    pub = procs.start([ZMESH_BIN, "publish", "weather/paris", "Forecast", "sunny", "--count",
                       "5", "--interval", "200ms", "--wait-subscribers", "1", "--timeout", "10s"])
    m = re.match(r"publishing on (\S+)", procs.line(pub))
    sub = procs.start([sys.executable, os.path.join(EXAMPLES, "subscriber.py"), "weather/",
                       "--connect", m.group(1), "--count", "5"])
    assert sub.wait(15) == 0
    lines = sub.stdout.read().splitlines()
    assert [l.split()[2] for l in lines] == ["1", "2", "3", "4", "5"]
    assert "received 5, missed 0" in sub.stderr.read()


def test_python_subscriber_follows_cpp_publishers_through_the_broker(procs, peers):
    brk = procs.broker("--renew-ms", "300", "--ttl-ms", "1000")
    pub = procs.start([ZMESH_BIN, "publish", "w/x", "W", "hi", "--count", "10",
                       "--interval", "100ms", "--wait-subscribers", "1", "--timeout", "10s", "--broker", brk,
                       "--name", "cpp-pub"])
    procs.line(pub)
    s = peers.make("py-sub", broker=brk)
    assert wait_for(lambda: any(m.name == "cpp-pub" for m in s.members()), 5)
    got = []
    s.subscribe("w/", lambda m: got.append(m.sequence))
    assert pub.wait(10) == 0
    assert wait_for(lambda: got == list(range(1, 11)), 3)


# -- broker -----------------------------------------------------------------------------------
def test_rule37_python_hears_join_update_and_leave_bye_and_expired(procs, peers):
    brk = procs.broker("--renew-ms", "200", "--ttl-ms", "600")
    s = peers.make("watcher", broker=brk)
    assert s.wait_registered(5)
    names = lambda: sorted(m.name for m in s.members())
    p1, _, _ = cpp_reply(procs, "--broker", brk, "--name", "one")
    p2, _, _ = cpp_reply(procs, "--broker", brk, "--name", "two")
    assert wait_for(lambda: names() == ["one", "two"], 5)
    p1.send_signal(signal.SIGTERM)   # clean leave: Bye, Leave "bye"
    assert wait_for(lambda: names() == ["two"], 3)
    os.kill(p2.pid, signal.SIGKILL)  # no Bye: Leave "expired" after the TTL
    assert wait_for(lambda: names() == [], 5)
    st = s.stats()
    assert st["broker_events"] >= 3 and st.get("events_lost", 0) == 0


def test_rule37_cpp_sees_the_python_peer_join_and_leave(procs, peers):
    brk = procs.broker()
    s = peers.make("py-member", services=["a", "b"], broker=brk)
    assert s.wait_registered(5)
    r = zmesh_cmd("peers", "--broker", brk, "--format", "json")
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    assert [(x["name"], x["services"], x["endpoints"], x["pub_endpoints"]) for x in rows] == \
        [("py-member", ["a", "b"], [s.endpoint], [s.pub_endpoint])]
    s.stop()
    r = zmesh_cmd("peers", "--broker", brk, "--format", "json")
    assert r.stdout.strip() == ""   # the Bye removed it at once


def test_rule35_python_reregisters_after_a_broker_restart(procs, peers):
    from conftest import free_port
    port = free_port()
    ep = f"tcp://127.0.0.1:{port}"
    args = [BROKER_BIN, "--bind", ep, "--renew-ms", "200", "--ttl-ms", "600"]
    b1 = procs.start(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s = peers.make("survivor", broker=ep)
    assert s.wait_registered(5)
    e1 = s.stats()["broker_epoch"]
    os.kill(b1.pid, signal.SIGKILL)
    b1.wait()
    procs.start(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # the next Renew is answered UnknownPeer: the peer registers again
    assert wait_for(lambda: s.stats()["broker_epoch"] not in (0, e1), 5)
    r = wait_for(lambda: "survivor" in zmesh_cmd("peers", "--broker", ep).stdout, 5)
    assert r


def test_rule38_a_taken_name_is_refused_visibly_and_retried_slowly(procs, peers):
    brk = procs.broker("--renew-ms", "300", "--ttl-ms", "1000")
    cpp_reply(procs, "--broker", brk, "--name", "taken")
    s = peers.make("taken", broker=brk)
    assert wait_for(lambda: "duplicate_name" in s.registration_error, 3), s.registration_error
    assert not s.registered
    time.sleep(1.0)
    refused = s.stats()["registrations_refused"]
    assert 1 <= refused <= 1 + 1.3 / 0.3  # at most once per renew interval


def test_rule41_listings_of_several_pages_arrive_whole(procs, peers):
    brk = procs.broker("--page-records", "2")
    for i in range(5):  # one after the other: the listing is in registration order
        assert peers.make(f"m{i}", broker=brk).wait_registered(5)
    q = peers.make("asker", broker=brk)
    assert q.wait_registered(5)
    assert [m.name for m in q.lookup()] == [f"m{i}" for i in range(5)] + ["asker"]
    assert wait_for(lambda: len(q.members()) == 5, 3)  # its own listing, all pages, not itself
    assert [m.name for m in q.lookup(name="m3")] == ["m3"]


def test_rule42_an_event_jump_makes_the_peer_take_a_full_listing(peers, raws):
    fake = raws(zmq.ROUTER, name="broker")
    port = fake.s.bind_to_random_port("tcp://127.0.0.1")
    s = peers.make("client", broker=f"tcp://127.0.0.1:{port}")
    epoch = 0xE90C

    def expect(kind):
        while True:
            f = fake.recv(3)
            assert f is not None, f"no {kind}"
            h, _ = codec.decode_header(f[1])
            if h.kind == kind:
                return f[0], h, f[2]

    def peer_list(ident, corr, infos):
        import flatbuffers
        from zmesh.wire import PeerList, PeerRecord
        b = flatbuffers.Builder(256)
        recs = []
        for i in infos:
            pi = codec._build_info(b, i)
            PeerRecord.Start(b)
            PeerRecord.AddPeer(b, pi)
            recs.append(PeerRecord.End(b))
        b.StartVector(4, len(recs), 4)
        for r in reversed(recs):
            b.PrependUOffsetTRelative(r)
        v = b.EndVector()
        PeerList.Start(b)
        PeerList.AddEpoch(b, epoch)
        PeerList.AddPeers(b, v)
        PeerList.AddUptimeMs(b, 3_600_000)  # an old broker (a young one's listing drops nobody)
        b.Finish(PeerList.End(b))
        fake.s.send_multipart([ident, fake.hdr(codec.PEER_LIST, corr), bytes(b.Output())])

    def event(ident, seq, t, info):
        import flatbuffers
        from zmesh.wire import Event
        b = flatbuffers.Builder(256)
        pi = codec._build_info(b, info)
        Event.Start(b)
        Event.AddEpoch(b, epoch)
        Event.AddType(b, t)
        Event.AddPeer(b, pi)
        Event.AddSequence(b, seq)
        b.Finish(Event.End(b))
        fake.s.send_multipart([ident, fake.hdr(codec.EVENT), bytes(b.Output())])

    def ack(ident, corr, last):
        import flatbuffers
        from zmesh.wire import RegisterAck
        b = flatbuffers.Builder(64)
        RegisterAck.Start(b)
        RegisterAck.AddEpoch(b, epoch)
        RegisterAck.AddTtlMs(b, 60000)
        RegisterAck.AddRenewIntervalMs(b, 30000)
        RegisterAck.AddEventSequence(b, last)
        b.Finish(RegisterAck.End(b))
        fake.s.send_multipart([ident, fake.hdr(codec.REGISTER_ACK, corr), bytes(b.Output())])

    info = lambda n, i: codec.Info(i, i + 1, n, [f"tcp://127.0.0.1:{i}"])
    ident, h, _ = expect(codec.REGISTER)
    ack(ident, h.correlation_id, 5)
    ident, h, _ = expect(codec.LOOKUP)          # a full listing after registering
    peer_list(ident, h.correlation_id, [info("a", 11)])
    assert wait_for(lambda: [m.name for m in s.members()] == ["a"], 2)
    event(ident, 6, 1, info("b", 12))           # next in sequence: applied
    assert wait_for(lambda: [m.name for m in s.members()] == ["a", "b"], 2)
    event(ident, 6, 2, info("b", 12))           # duplicate: ignored
    event(ident, 5, 2, info("a", 11))           # older: ignored
    time.sleep(0.1)
    assert [m.name for m in s.members()] == ["a", "b"]
    event(ident, 9, 1, info("c", 13))           # a jump: events were lost, list again
    ident, h, _ = expect(codec.LOOKUP)
    peer_list(ident, h.correlation_id, [info("c", 13), info("d", 14)])
    assert wait_for(lambda: [m.name for m in s.members()] == ["c", "d"], 2)
    assert s.stats()["events_lost"] == 2


def _restartable_broker(procs, *extra):
    from conftest import free_port
    ep = f"tcp://127.0.0.1:{free_port()}"
    args = [BROKER_BIN, "--bind", ep, *extra]
    start = lambda: procs.start(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return ep, start


def test_rule39_a_name_is_looked_up_again_while_the_broker_is_young(procs, peers):
    ep, start = _restartable_broker(procs, "--renew-ms", "500", "--ttl-ms", "2000")
    b1 = start()
    cpp_reply(procs, "--broker", ep, "--name", "named")
    os.kill(b1.pid, signal.SIGKILL)
    b1.wait()
    start()  # knows nobody until "named" renews (within 500 ms) and hears UnknownPeer
    c = peers.make("asker", broker=ep)
    t0 = time.monotonic()
    assert c.request("named", "Echo", "found", timeout=5).payload == b"found"
    # and a name nobody registers is reported unknown once the warm-up is over, not at once
    with pytest.raises(zmesh.UnknownPeer):
        c.request("nobody", "Echo", "x", timeout=5)
    assert time.monotonic() - t0 < 5


def test_rule39_a_young_brokers_listing_drops_no_member(procs, peers):
    ep, start = _restartable_broker(procs, "--renew-ms", "300", "--ttl-ms", "1200")
    b1 = start()
    w = peers.make("watcher", broker=ep)
    assert w.wait_registered(5)
    cpp_reply(procs, "--broker", ep, "--name", "member")
    assert wait_for(lambda: [m.name for m in w.members()] == ["member"], 5)
    e1 = w.stats()["broker_epoch"]
    os.kill(b1.pid, signal.SIGKILL)
    b1.wait()
    start()
    end = time.monotonic() + 2.5
    while time.monotonic() < end:  # the restart is invisible in the membership
        assert [m.name for m in w.members()] == ["member"]
        time.sleep(0.02)
    assert w.stats()["broker_epoch"] != e1  # it did register with the new broker


def test_a_service_request_moves_to_the_next_provider_when_one_dies(procs, peers):
    brk = procs.broker()
    slow, _, _ = cpp_reply(procs, "--broker", brk, "--name", "slow", "--service", "svc",
                           "--command", "sleep 30", type_="Work")
    cpp_reply(procs, "--broker", brk, "--name", "fast", "--service", "svc", "--text", "done",
              type_="Work")
    c = peers.make("client", broker=brk)
    assert wait_for(lambda: len(c.members()) == 2, 5)
    futs = [c.request_future(("service", "svc"), "Work", b"", timeout=15) for _ in range(2)]
    time.sleep(0.5)  # one of them waits on "slow"
    os.kill(slow.pid, signal.SIGKILL)
    assert [f.result(12).payload for f in futs] == [b"done", b"done"]
