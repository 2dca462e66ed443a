"""Several brokers (protocol.md 5.7, conformance rules 47-51): the Python peer registers
with every broker of its list (each with its own registration, epoch and Event sequence),
keeps the union of their views, asks one broker at a time and moves on, waits for a broker
when none is up, can be lookup-only, and registers again on an Event of another epoch.
Against real zmesh-broker processes (and scripted ROUTERs where the bytes matter); every
process is killed by its PID, every socket is on 127.0.0.1."""
import os
import re
import signal
import subprocess
import threading
import time

import flatbuffers
import pytest
import zmq

import zmesh
from zmesh import codec

from conftest import BROKER_BIN, ZMESH_BIN, free_port, need_binaries, wait_for

FAST = ("--renew-ms", "200", "--ttl-ms", "600")  # a killed broker is noticed within a second


def names(members):
    return sorted(m.name for m in members)


def cpp_peers(ep):
    return subprocess.run([ZMESH_BIN, "peers", "--broker", ep, "--timeout", "2s"],
                          capture_output=True, text=True, timeout=10).stdout


def restartable(procs, *extra):
    need_binaries()
    ep = f"tcp://127.0.0.1:{free_port()}"
    args = [BROKER_BIN, "--bind", ep, *extra]
    return ep, lambda: procs.start(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# -- scripted brokers (a bare ROUTER) ---------------------------------------------------------
class Fake:
    """A bare ROUTER playing a broker: reads what the peer sends, answers by hand."""

    def __init__(self, raws, epoch):
        self.r = raws(zmq.ROUTER, name="broker")
        self.ep = f"tcp://127.0.0.1:{self.r.s.bind_to_random_port('tcp://127.0.0.1')}"
        self.epoch = epoch

    def expect(self, kind, timeout=3.0):
        """(identity, header, payload) of the next message of `kind`; others are skipped."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            f = self.r.recv(max(0.01, end - time.monotonic()))
            if f is None:
                break
            h, why = codec.decode_header(f[1])
            assert why is None, why
            if h.kind == kind:
                return f[0], h, f[2]
        raise AssertionError(f"no message of kind {kind} in {timeout} s")

    def kinds(self, seconds):
        seen = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            f = self.r.recv(max(0.01, end - time.monotonic()))
            if f is not None:
                seen.append(codec.decode_header(f[1])[0].kind)
        return seen

    def send(self, ident, kind, corr, payload):
        self.r.s.send_multipart([ident, self.r.hdr(kind, corr), payload])

    def ack(self, ident, corr, epoch=None, seq=0):
        from zmesh.wire import RegisterAck
        b = flatbuffers.Builder(64)
        RegisterAck.Start(b)
        RegisterAck.AddEpoch(b, epoch or self.epoch)
        RegisterAck.AddTtlMs(b, 60000)
        RegisterAck.AddRenewIntervalMs(b, 30000)
        RegisterAck.AddEventSequence(b, seq)
        b.Finish(RegisterAck.End(b))
        self.send(ident, codec.REGISTER_ACK, corr, bytes(b.Output()))

    def peer_list(self, ident, corr, infos, next_=0, uptime_ms=3_600_000):
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
        PeerList.AddEpoch(b, self.epoch)
        PeerList.AddPeers(b, v)
        PeerList.AddUptimeMs(b, uptime_ms)  # an old broker unless told
        PeerList.AddNext(b, next_)
        b.Finish(PeerList.End(b))
        self.send(ident, codec.PEER_LIST, corr, bytes(b.Output()))

    def event(self, ident, epoch, seq, type_, info):
        from zmesh.wire import Event
        b = flatbuffers.Builder(256)
        pi = codec._build_info(b, info)
        Event.Start(b)
        Event.AddEpoch(b, epoch)
        Event.AddType(b, type_)
        Event.AddPeer(b, pi)
        Event.AddSequence(b, seq)
        b.Finish(Event.End(b))
        self.send(ident, codec.EVENT, 0, bytes(b.Output()))


def lookup_after(payload) -> int:
    from zmesh.wire import Lookup
    return Lookup.Lookup.GetRootAs(payload, 0).After()


def info(name, i):
    return codec.Info(i, i + 1, name, [f"tcp://127.0.0.1:{i}"])


def in_thread(fn):
    """Runs fn on a thread; returns a getter for (result, exception, seconds)."""
    out = {}

    def run():
        t0 = time.monotonic()
        try:
            out["r"] = fn()
        except Exception as e:  # noqa: BLE001 - handed back to the test
            out["e"] = e
        out["t"] = time.monotonic() - t0
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return lambda timeout: (t.join(timeout), (out.get("r"), out.get("e"), out.get("t")))[1]


# -- options ----------------------------------------------------------------------------------
def test_broker_lists_are_parsed_like_the_cpp_options():
    p = zmesh.Peer("opts", broker="tcp://127.0.0.1:1, tcp://127.0.0.1:2",
                   brokers=["tcp://127.0.0.1:3,tcp://127.0.0.1:1", "tcp://127.0.0.1:4"],
                   start=False)
    assert p.brokers == [f"tcp://127.0.0.1:{i}" for i in (1, 2, 3, 4)]
    assert zmesh.Peer("one", broker="tcp://127.0.0.1:5", start=False).brokers == \
        ["tcp://127.0.0.1:5"]
    assert zmesh.Peer("none", start=False).brokers == []
    assert zmesh.Peer("b", brokers="tcp://127.0.0.1:6,tcp://127.0.0.1:7", start=False).broker


# -- rule 47: one registration, epoch and sequence per broker; the union ----------------------
@pytest.mark.timeout(20)
def test_rule47_two_brokers_list_the_python_peer_and_its_membership_is_the_union(procs, peers):
    need_binaries()
    b1, b2 = procs.broker(*FAST), procs.broker(*FAST)  # young brokers batch Events per renewal
    p = peers.make("both", brokers=[b1, b2])
    only1 = peers.make("only1", broker=b1)
    only2 = peers.make("only2", broker=b2)
    assert wait_for(lambda: all(b["registered"] for b in p.broker_states()), 5), p.broker_states()
    bs = p.broker_states()
    assert [b["endpoint"] for b in bs] == [b1, b2]
    assert bs[0]["epoch"] and bs[1]["epoch"] and bs[0]["epoch"] != bs[1]["epoch"]
    assert "both" in cpp_peers(b1) and "both" in cpp_peers(b2)
    # the union: one record per peer id, from whichever broker holds it
    assert wait_for(lambda: names(p.members()) == ["only1", "only2"], 5), p.members()
    assert wait_for(lambda: [sorted(b["members"]) for b in p.broker_states()]
                    == [[only1.id], [only2.id]], 3)
    # each broker's Events are numbered apart: only1 leaving is b1's Event 1 (or more)
    seq2 = p.broker_states()[1]["last_event"]
    only1.stop(0.2)
    assert wait_for(lambda: names(p.members()) == ["only2"], 3), p.members()
    assert p.broker_states()[1]["last_event"] == seq2  # b2 said nothing about it
    assert p.broker_states()[0]["last_event"] >= 1
    # a peer at both brokers leaves the union only when neither view holds it
    twice = peers.make("twice", brokers=f"{b1},{b2}")
    assert wait_for(lambda: "twice" in names(p.members()), 5)
    assert wait_for(lambda: all(twice.id in b["members"] for b in p.broker_states()), 3)
    twice.stop(0.2)
    assert wait_for(lambda: "twice" not in names(p.members()), 3)


@pytest.mark.timeout(20)
def test_rule47_49_a_killed_broker_leaves_lookups_and_the_membership_to_the_other(procs,
                                                                                  peers):
    need_binaries()
    b1, b2 = procs.broker(*FAST), procs.broker(*FAST)
    broker1 = procs.procs[0]
    p = peers.make("asker", brokers=[b1, b2])
    t = peers.make("target", brokers=[b1, b2])
    t.on("Echo", lambda m: m.payload)
    assert wait_for(lambda: all(b["registered"] for b in p.broker_states() + t.broker_states()), 5)
    assert wait_for(lambda: names(p.members()) == ["target"], 3)
    os.kill(broker1.pid, signal.SIGKILL)
    broker1.wait()
    t0 = time.monotonic()
    assert names(p.lookup(name="target", timeout=3)) == ["target"]
    assert time.monotonic() - t0 < 2.5
    assert names(p.lookup(timeout=3)) == ["asker", "target"]
    assert p.request("target", "Echo", b"hi", timeout=3).payload == b"hi"
    # b1 is silent for longer than a registration lives: its view is forgotten, while b2's
    # still holds the target (a member leaves only when no live broker's view holds it)
    assert wait_for(lambda: p.broker_states()[0]["members"] == [] and not p.broker_states()[0]["live"], 4)
    assert names(p.members()) == ["target"]
    assert p.registered and p.broker_states()[1]["registered"]


@pytest.mark.timeout(20)
def test_rule49_a_dead_endpoint_first_in_the_list_does_not_stop_the_peer(procs, peers):
    need_binaries()
    dead = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    b2 = procs.broker()
    t = peers.make("target", broker=b2)
    t.on("Echo", lambda m: m.payload)
    p = peers.make("asker", brokers=[dead, b2])
    assert t.wait_registered(3) and p.wait_registered(3)
    assert [b["registered"] for b in p.broker_states()] == [False, True]
    t0 = time.monotonic()
    assert names(p.lookup(name="target", timeout=3)) == ["target"]
    assert p.request("target", "Echo", "x", timeout=3).payload == b"x"
    assert time.monotonic() - t0 < 2.0
    assert wait_for(lambda: names(p.members()) == ["target"], 3)
    # lookup-only, dead endpoint first: the same
    lo = peers.make("looker", brokers=[dead, b2], register_with_brokers=False)
    assert names(lo.lookup(name="target", timeout=3)) == ["target"]


# -- rule 48: the pages of one answer come from one broker ------------------------------------
@pytest.mark.timeout(15)
def test_rule48_an_answer_broken_off_after_a_page_starts_again_from_the_first_page_elsewhere(
        peers, raws):
    f1, f2 = Fake(raws, 0xB1), Fake(raws, 0xB2)
    p = peers.make("pager", brokers=[f1.ep, f2.ep], register_with_brokers=False,
                   membership_refresh=0)  # no listing of its own: only the query's Lookups
    time.sleep(0.3)  # both connected
    got = in_thread(lambda: p.lookup(timeout=3))
    ident, h, pl = f1.expect(codec.LOOKUP)
    assert lookup_after(pl) == 0
    f1.peer_list(ident, h.correlation_id, [info("one-a", 11)], next_=7)
    ident, h, pl = f1.expect(codec.LOOKUP)     # the next page, from the same broker
    assert lookup_after(pl) == 7
    # ... which f1 never sends: the client moves on to f2, from the first page
    ident2, h2, pl2 = f2.expect(codec.LOOKUP, timeout=2.5)
    assert lookup_after(pl2) == 0
    f2.peer_list(ident2, h2.correlation_id, [info("two-a", 21), info("two-b", 22)])
    r, e, secs = got(5)
    assert e is None, e
    assert names(r) == ["two-a", "two-b"]  # nothing of f1's first page
    # f1's late second page changes nothing (it is no one's answer any more)
    f1.peer_list(ident, h.correlation_id, [info("one-b", 12)])
    time.sleep(0.1)
    assert p.stats().get("unmatched", 0) >= 1


@pytest.mark.timeout(15)
def test_rule49_a_lookup_moves_on_from_a_broker_that_does_not_answer(peers, raws):
    f1, f2 = Fake(raws, 0xC1), Fake(raws, 0xC2)
    p = peers.make("mover", brokers=[f1.ep, f2.ep], register_with_brokers=False,
                   membership_refresh=0)
    time.sleep(0.3)
    got = in_thread(lambda: p.lookup(name="x", timeout=3))
    f1.expect(codec.LOOKUP)                       # asked first, never answers
    ident, h, _ = f2.expect(codec.LOOKUP, timeout=2.5)  # its share: (3 s left) / 2 = 1.5 s
    f2.peer_list(ident, h.correlation_id, [info("x", 31)])
    r, e, secs = got(5)
    assert e is None, e
    assert names(r) == ["x"] and 1.3 < secs < 2.9, secs


# -- rule 49: lookups issued before any broker is up wait for one -----------------------------
@pytest.mark.timeout(20)
def test_rule49_lookups_issued_before_any_broker_is_up_wait_for_one(procs, peers):
    ep, start = restartable(procs)
    p = peers.make("early", brokers=[ep])
    lo = peers.make("early-looker", brokers=[ep], register_with_brokers=False)
    listing = in_thread(lambda: lo.lookup(timeout=6))
    by_name = in_thread(lambda: p.request("late", "Echo", "waited", timeout=6))
    time.sleep(0.7)
    assert not p.registered
    start()
    late = peers.make("late", broker=ep)
    late.on("Echo", lambda m: m.payload)
    r, e, secs = listing(8)
    assert e is None and secs > 0.6, (e, secs)
    r, e, secs = by_name(8)
    # the broker is young: a name it does not know yet is asked for again (rule 39)
    assert e is None, e
    assert r.payload == b"waited" and secs > 0.6
    assert p.wait_registered(3)


# -- rule 50: lookup-only clients ---------------------------------------------------------------
@pytest.mark.timeout(20)
def test_rule50_a_lookup_only_python_client_is_not_listed_gets_no_events_and_keeps_a_view(
        procs, peers):
    need_binaries()
    b1, b2 = procs.broker(*FAST), procs.broker(*FAST)
    member = peers.make("member", brokers=[b1, b2])
    lo = peers.make("looker", brokers=[b1, b2], register_with_brokers=False,
                    membership_refresh=0.3)
    assert wait_for(lambda: all(b["registered"] for b in member.broker_states()), 5)
    assert names(lo.lookup(name="member", timeout=3)) == ["member"]
    assert wait_for(lambda: names(lo.members()) == ["member"], 3)  # listed again periodically
    other = peers.make("other", broker=b2)
    assert wait_for(lambda: names(lo.members()) == ["member", "other"], 3)
    time.sleep(0.5)
    assert not lo.registered and lo.registration_error == ""
    assert all(not b["registered"] and b["events"] == 0 for b in lo.broker_states())
    assert all(b["live"] for b in lo.broker_states())  # its Pings are answered
    assert "looker" not in cpp_peers(b1) and "looker" not in cpp_peers(b2)
    assert "looker" not in names(member.lookup(timeout=3))
    assert "looker" not in names(member.members())
    assert wait_for(lambda: names(member.members()) == ["other"], 3)
    other.stop(0.2)
    assert wait_for(lambda: names(lo.members()) == ["member"], 3)


@pytest.mark.timeout(15)
def test_rule50_a_lookup_only_client_sends_no_register_only_lookups_and_pings(peers, raws):
    f = Fake(raws, 0xD1)
    lo = peers.make("looker", broker=f.ep, register_with_brokers=False, membership_refresh=0.3)
    got = in_thread(lambda: lo.lookup(name="x", timeout=2))
    ident, h, _ = f.expect(codec.LOOKUP)
    f.peer_list(ident, h.correlation_id, [info("x", 41)])
    kinds = set(f.kinds(1.5))
    assert codec.PING in kinds and codec.LOOKUP in kinds  # pings and its own listing
    assert kinds <= {codec.PING, codec.LOOKUP}, kinds
    assert names(got(3)[0]) == ["x"]
    lo.stop(0.2)
    assert set(f.kinds(0.3)) <= {codec.PING, codec.LOOKUP}  # no Bye either


# -- rule 51: an Event of another epoch ---------------------------------------------------------
@pytest.mark.timeout(15)
def test_rule51_an_event_of_another_epoch_changes_nothing_and_the_peer_registers_again(
        peers, raws):
    f = Fake(raws, 0xE1)
    p = peers.make("client", broker=f.ep)
    ident, h, _ = f.expect(codec.REGISTER)
    f.ack(ident, h.correlation_id, seq=3)
    ident, h, _ = f.expect(codec.LOOKUP)
    f.peer_list(ident, h.correlation_id, [info("a", 51)])
    assert wait_for(lambda: names(p.members()) == ["a"], 2)
    f.event(ident, 0xE2, 4, 1, info("stranger", 52))  # Join from another broker run
    f.event(ident, 0xE2, 5, 2, info("a", 51))         # Leave from another broker run
    ident, h, _ = f.expect(codec.REGISTER, timeout=1.0)  # at once, not at the next renewal
    assert names(p.members()) == ["a"]
    assert p.stats()["events_other_epoch"] >= 1
    assert p.broker_states()[0]["epoch"] == 0xE1
    f.epoch = 0xE2
    f.ack(ident, h.correlation_id, epoch=0xE2, seq=5)
    ident, h, _ = f.expect(codec.LOOKUP)
    f.peer_list(ident, h.correlation_id, [info("stranger", 52)])
    assert wait_for(lambda: names(p.members()) == ["stranger"], 2)
    assert p.broker_states()[0]["epoch"] == 0xE2 and p.registered


@pytest.mark.timeout(20)
def test_rule51_a_restarted_broker_gets_a_new_registration_while_the_other_keeps_its_own(
        procs, peers):
    ep1, start1 = restartable(procs, *FAST)
    b2 = procs.broker(*FAST)
    first = start1()
    p = peers.make("survivor", brokers=[ep1, b2])
    assert wait_for(lambda: all(b["registered"] for b in p.broker_states()), 5)
    e1, e2 = p.broker_states()[0]["epoch"], p.broker_states()[1]["epoch"]
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    start1()
    # the new run does not know us: the peer registers there again under the new epoch
    assert wait_for(lambda: p.broker_states()[0]["registered"]
                    and p.broker_states()[0]["epoch"] not in (0, e1), 5), p.broker_states()
    assert p.broker_states()[1]["epoch"] == e2 and p.broker_states()[1]["registered"]
    assert wait_for(lambda: "survivor" in cpp_peers(ep1), 5)
    # a newcomer at the restarted broker reaches the peer through that broker's Events
    peers.make("newcomer", broker=ep1)
    assert wait_for(lambda: names(p.members()) == ["newcomer"], 5)


# -- interop: the C++ peer on a list of brokers -------------------------------------------------
@pytest.mark.timeout(20)
def test_a_cpp_reply_on_two_brokers_is_found_by_a_python_peer_that_knows_only_the_second(
        procs, peers):
    need_binaries()
    b1, b2 = procs.broker(), procs.broker()
    cpp = procs.start([ZMESH_BIN, "reply", "Echo", "--echo", "--name", "echo-cpp",
                       "--broker", f"{b1},{b2}"])
    line = procs.line(cpp, drain=True)
    m = re.match(r"listening on (\S+) as (\S+) \(id ([0-9a-f]{16})\)", line)
    assert m, line
    p = peers.make("py-client", broker=b2)
    assert p.request("echo-cpp", "Echo", "via b2", timeout=5).payload == b"via b2"
    assert wait_for(lambda: "echo-cpp" in names(p.members()), 3)
    # and the C++ tool, knowing only b1, finds a Python peer registered at both
    py = peers.make("py-upper", brokers=f"{b1},{b2}")
    py.on("Upper", lambda msg: msg.payload.upper())
    assert wait_for(lambda: all(b["registered"] for b in py.broker_states()), 5)
    r = subprocess.run([ZMESH_BIN, "request", "--broker", b1, "py-upper", "Upper", "abc"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and r.stdout.strip() == "ABC", (r.stdout, r.stderr)
