"""CURVE meshes (protocol.md 5.8, 4.1, 5.1; docs/security.md): conformance rules 60-63
for the Python peer, against the C++ binaries (`zmesh keygen`, `zmesh reply/request/
publish/subscribe`, a CURVE `zmesh-broker`) and bare pyzmq CURVE sockets. Every socket
is on 127.0.0.1; every process is killed by its PID at the end of its test."""
from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import threading
import time

import pytest
import zmq
import zmq.utils.z85

import zmesh
from zmesh import codec, security
from zmesh.codec import EC, Info

from conftest import BROKER_BIN, ZMESH_BIN, free_port, need_binaries, rand64, wait_for

FAST = 1.0  # a refused handshake is reported within about a second, not at a timeout


# -- keys -----------------------------------------------------------------------------------
class Keys:
    """Key pairs written by `zmesh keygen NAME --dir D` (zcert files), and trust dirs."""

    def __init__(self, root):
        self.dir = os.path.join(str(root), "keys")
        os.makedirs(self.dir)
        self.root = str(root)

    def make(self, name):
        need_binaries()
        r = subprocess.run([ZMESH_BIN, "keygen", name, "--dir", self.dir], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        return self.secret(name)

    def public(self, name):
        return os.path.join(self.dir, name + ".key")

    def secret(self, name):
        return os.path.join(self.dir, name + ".key_secret")

    def key(self, name):
        return security.load_certificate(self.public(name)).public_key

    def trust(self, *names):
        d = os.path.join(self.root, "trust-" + "-".join(names) + f"-{rand64():x}")
        os.makedirs(d)
        for n in names:
            with open(self.public(n)) as src, open(os.path.join(d, n + ".key"), "w") as dst:
                dst.write(src.read())
        return d

    def curve(self, name, *trusted, **kw):
        if trusted:
            kw.setdefault("trust_dir", self.trust(*trusted))
        elif "trusted_keys" not in kw:
            kw.setdefault("trust_any", True)
        return zmesh.CurveOptions(secret_key_file=self.secret(name), **kw)


@pytest.fixture
def keys(tmp_path):
    need_binaries()
    k = Keys(tmp_path)
    for n in ("srv", "cli", "stranger", "brk", "py"):
        k.make(n)
    return k


def cpp(procs, cmd, *args, first=r"(?:listening|publishing) on (\S+) as (\S+) \(id ([0-9a-f]{16})\)"):
    p = procs.start([ZMESH_BIN, cmd, *args])
    line = procs.line(p, 10, drain=True)
    m = re.match(first, line)
    assert m, (line, p.poll())
    return p, m.group(1), int(m.group(3), 16)


def run(*args, timeout=10):
    return subprocess.run([ZMESH_BIN, *args], capture_output=True, text=True, timeout=timeout)


def auth_fails_fast(fn):
    t = time.monotonic()
    with pytest.raises(zmesh.AuthFailed) as ei:
        fn()
    took = time.monotonic() - t
    assert took < FAST, f"{took:.3f} s: {ei.value}"
    return ei.value


# -- rule 62 and zcert files ---------------------------------------------------------------
def test_rule62_keygen_certificates_load_and_the_peer_id_is_the_keys_first_8_bytes(keys, procs,
                                                                                   peers):
    pub, sec = security.load_certificate(keys.public("srv")), \
        security.load_certificate(keys.secret("srv"))
    assert pub.public_key == sec.public_key and not pub.secret_key and sec.secret_key
    assert pub.metadata == {"name": "srv"}
    assert security.public_key_of(sec.secret_key) == pub.public_key
    raw = zmq.utils.z85.decode(pub.public_key.encode())
    bound = int.from_bytes(raw[:8], "little")
    assert zmesh.peer_id_for_key(pub.public_key) == bound != 0
    # the C++ peer with that key has that id
    _, _, cpp_id = cpp(procs, "reply", "Echo", "--key", keys.secret("srv"), "--trust",
                       keys.trust("cli"))
    assert cpp_id == bound
    # and so has the Python peer; an id that is not the key's is refused
    p = peers.make("py", curve=keys.curve("srv", "cli"), bind="tcp://127.0.0.1:*")
    assert p.id == bound
    with pytest.raises(zmesh.InvalidArgument, match="not the id bound to our key"):
        zmesh.Peer("py", curve=keys.curve("srv", "cli"), id=bound ^ 1, start=False)
    assert zmesh.Peer("py", curve=keys.curve("srv", "cli"), id=bound, start=False).id == bound
    # the trust directory takes public certificates only
    d = keys.trust("cli")
    with open(keys.secret("srv")) as f:
        s = f.read()
    fd = os.open(os.path.join(d, "srv.key_secret"), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, s.encode())
    os.close(fd)
    skipped = []
    got = security.load_trusted_certificates(d, skipped)
    assert [c.public_key for c in got] == [keys.key("cli")] and len(skipped) == 1


def test_key_options_are_checked_as_the_cpp_peer_checks_them(keys):
    sec = keys.secret("cli")
    os.chmod(sec, 0o644)
    with pytest.raises(zmesh.InvalidArgument, match=r"group or others.*mode 0644.*chmod 600"):
        security.load_certificate(sec)
    with pytest.raises(zmesh.InvalidArgument, match="chmod 600"):
        zmesh.Peer("py", curve=zmesh.CurveOptions(secret_key_file=sec, trust_any=True),
                   start=False)
    os.chmod(sec, 0o600)
    ok = security.curve_keys_from_file(sec)
    assert ok.public_key == keys.key("cli")
    with pytest.raises(zmesh.InvalidArgument, match="no client is trusted"):
        zmesh.Peer("py", curve=zmesh.CurveOptions(secret_key_file=sec), start=False)
    with pytest.raises(zmesh.InvalidArgument, match="does not belong"):
        zmesh.CurveOptions(secret_key=ok.secret_key, public_key=keys.key("srv"),
                           trust_any=True).validate()
    with pytest.raises(zmesh.InvalidArgument, match="holds no secret key"):
        zmesh.CurveOptions(secret_key_file=keys.public("cli"), trust_any=True).validate()
    with pytest.raises(zmesh.InvalidArgument, match="Z85"):
        zmesh.CurveOptions(secret_key="x" * 39, trust_any=True).validate()
    with pytest.raises(zmesh.InvalidArgument, match="broker_key"):
        zmesh.Peer("py", curve=keys.curve("cli"), broker="tcp://127.0.0.1:1", start=False)
    # keys given as Z85 text work as the file does; a bare secret key derives its public key
    o = zmesh.CurveOptions(secret_key=ok.secret_key, trusted_keys=[keys.key("srv")]).validate()
    assert o.public_key == keys.key("cli")


# -- rule 63 ---------------------------------------------------------------------------------
def test_rule63_public_key_is_absent_or_40_z85_characters(keys, peers, raws):
    good = keys.key("cli")
    info = Info(rand64(), rand64(), "x", public_key=good)
    h = codec.Hdr(sender_id=info.id, sender_session=info.session)
    g, why = codec.decode_hello(codec.encode_hello(info, 1000), h)
    assert why is None and g.info.public_key == good
    g, why = codec.decode_hello(codec.encode_hello(Info(info.id, info.session, "x"), 1000), h)
    assert why is None and g.info.public_key == ""
    for bad in (good[:39], good + "x", "~" * 40, "\x7f" + good[1:], "%%%%%" * 8):
        i2 = Info(info.id, info.session, "x", public_key=bad)
        assert codec.decode_hello(codec.encode_hello(i2, 1000), h) == (None, "bad_value"), bad
        assert codec.decode_welcome(codec.encode_welcome(i2, 1000))[1] == "bad_value"
    # a plaintext Python peer answers a Hello with a bad key BadRequest
    p = peers.make("py")
    r = raws()
    r.s.connect(p.endpoint)
    r.hello(info=r.info(public_key="abc"))
    hd, f = r.recv_kind(codec.REJECT)
    assert hd is not None and codec.decode_code_text(f[-1], True)[0][0] == EC["BadRequest"]


# -- rule 61 (and 60's "every connection is CURVE"): Python client -> C++ zmesh reply --------
def test_rule61_python_curve_client_and_cpp_reply(keys, procs, peers):
    _, ep, cpp_id = cpp(procs, "reply", "Echo", "--key", keys.secret("srv"), "--trust",
                        keys.trust("cli"))
    c = peers.make("py-cli", curve=keys.curve("cli"))
    assert c.connect(ep, key=keys.public("srv")) == cpp_id
    r = c.request(ep, "Echo", b"over curve")
    assert (r.payload, r.peer) == (b"over curve", cpp_id)
    assert [x["peer"] for x in c.connections()] == [cpp_id]

    # an untrusted key: AuthFailed at once, naming the endpoint and the reason
    s = peers.make("py-stranger", curve=keys.curve("stranger"))
    e = auth_fails_fast(lambda: s.connect(ep, key=keys.key("srv")))
    assert ep in str(e) and "does not trust our key (ZAP status 400)" in str(e)
    assert e.errc == zmesh.Errc.auth_failed
    # a request queued behind that greeting fails the same way
    fut = s.request_future(ep, "Echo", b"x", timeout=5)
    auth_fails_fast(lambda: fut.result(5))
    assert s.stats()["auth_failures"] >= 2
    # we expect another server key: the server hangs up
    w = peers.make("py-wrongkey", curve=keys.curve("cli"))
    e = auth_fails_fast(lambda: w.connect(ep, key=keys.key("stranger")))
    assert "closed the connection during the CURVE handshake" in str(e)
    # plaintext meeting CURVE
    pl = peers.make("py-plain")
    e = auth_fails_fast(lambda: pl.connect(ep))
    assert ep in str(e) and "CURVE" in str(e)
    # CURVE meeting plaintext
    _, plain_ep, _ = cpp(procs, "reply", "Echo")
    e = auth_fails_fast(lambda: c.connect(plain_ep, key=keys.key("srv")))
    assert plain_ep in str(e)
    # the server key is needed
    with pytest.raises(zmesh.InvalidArgument, match="public key of the peer"):
        c.connect(plain_ep + "0")


# -- C++ zmesh request -> Python CURVE responder ----------------------------------------------
def test_rule61_62_cpp_request_to_python_curve_responder(keys, peers):
    p = peers.make("py-srv", curve=keys.curve("py", "cli"))
    seen = []

    def echo(m):
        seen.append((m.sender, m.sender_key))
        return m.payload
    p.on("Echo", echo)
    r = run("request", p.endpoint, "Echo", "hello curve", "--key", keys.secret("cli"),
            "--server-key", keys.public("py"), "--timeout", "5s")
    assert r.returncode == 0 and r.stdout == "hello curve\n", r.stderr
    assert seen == [(zmesh.peer_id_for_key(keys.key("cli")), keys.key("cli"))]
    # a client we do not trust: refused in the handshake, exit 7
    t = time.monotonic()
    r = run("request", p.endpoint, "Echo", "x", "--key", keys.secret("stranger"),
            "--server-key", keys.public("py"), "--timeout", "5s")
    assert r.returncode == 7 and "does not trust our key" in r.stderr, r.stderr
    assert time.monotonic() - t < 3
    # a client that expects another key of us
    r = run("request", p.endpoint, "Echo", "x", "--key", keys.secret("cli"),
            "--server-key", keys.public("srv"), "--timeout", "5s")
    assert r.returncode == 7, r.stderr
    # a plaintext client
    r = run("request", p.endpoint, "Echo", "x", "--timeout", "5s")
    assert r.returncode == 7, r.stderr
    st = p.stats()
    assert st["handshakes_accepted"] >= 1 and st["handshakes_refused"] >= 1
    assert len(seen) == 1


def test_reload_trust_admits_a_key_added_to_the_trust_directory(keys, peers):
    p = peers.make("py-srv", curve=keys.curve("py", "cli"))
    p.on("Echo", lambda m: m.payload)
    s = peers.make("py-stranger", curve=keys.curve("stranger"))
    auth_fails_fast(lambda: s.connect(p.endpoint, key=keys.key("py")))
    with open(keys.public("stranger")) as f:
        text = f.read()
    with open(os.path.join(p.curve.trust_dir, "stranger.key"), "w") as f:
        f.write(text)
    assert p.reload_trust() == 2
    assert s.request(p.endpoint, "Echo", "now trusted").payload == b"now trusted"
    plain = peers.make("py-plain")
    with pytest.raises(zmesh.InvalidArgument, match="CURVE is off"):
        plain.reload_trust()


# -- broadcasts ------------------------------------------------------------------------------
def test_rule61_python_publisher_and_cpp_subscriber_with_curve(keys, procs, peers):
    p = peers.make("py-pub", curve=keys.curve("py", "cli"))
    sub = procs.start([ZMESH_BIN, "subscribe", "news/", "--connect", p.pub_endpoint,
                       "--server-key", keys.public("py"), "--key", keys.secret("cli"),
                       "--count", "3", "--timeout", "5s"])
    assert wait_for(lambda: p.stats().get("subscriptions_seen", 0) >= 1, 5)
    for i in range(3):
        p.publish("news/a", "News", f"n{i}")
    out, err = sub.communicate(timeout=10)
    assert sub.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 3 and all(f"{p.id:016x}" in ln for ln in lines), out
    assert [ln.split()[-1] for ln in lines] == ["n0", "n1", "n2"]
    # an untrusted subscriber receives nothing (and fails with exit 7)
    t = time.monotonic()
    r = run("subscribe", "news/", "--connect", p.pub_endpoint, "--server-key",
            keys.public("py"), "--key", keys.secret("stranger"), "--count", "1",
            "--timeout", "3s")
    assert r.returncode == 7 and not r.stdout, (r.returncode, r.stdout, r.stderr)
    assert time.monotonic() - t < 3


def test_rule61_cpp_publisher_and_python_subscriber_with_curve(keys, procs, peers):
    pub, pub_ep, pub_id = cpp(procs, "publish", "w/x", "W", "hi", "--count", "0", "--interval",
                              "20ms", "--key", keys.secret("srv"), "--trust", keys.trust("py"))
    s = peers.make("py-sub", curve=keys.curve("py"), bind="", pub_bind="")
    got = []
    s.subscribe_to(pub_ep, key=keys.public("srv"))
    s.subscribe("w/", lambda m: got.append((m.sender, m.payload, m.sender_key)), timeout=5)
    assert wait_for(lambda: len(got) >= 2, 5)
    assert got[0][:2] == (pub_id, b"hi") and got[0][2] == ""  # broadcasts carry no key
    # an untrusted subscriber: its sync fails with AuthFailed, fast
    x = peers.make("py-stranger", curve=keys.curve("stranger"), bind="", pub_bind="")
    x.subscribe_to(pub_ep, key=keys.key("srv"))
    e = auth_fails_fast(lambda: x.subscribe("w/", lambda m: None, timeout=5))
    assert "does not trust our key" in str(e)
    # a plaintext subscriber too
    y = peers.make("py-plain", bind="", pub_bind="")
    y.subscribe_to(pub_ep)
    auth_fails_fast(lambda: y.subscribe("w/", lambda m: None, timeout=5))


# -- the broker ------------------------------------------------------------------------------
def test_python_peer_registers_with_a_curve_broker_and_peers_meet_by_its_keys(keys, procs,
                                                                            peers):
    brk = f"tcp://127.0.0.1:{free_port()}"
    procs.start([BROKER_BIN, "--bind", brk, "--key", keys.secret("brk"), "--trust",
                 keys.trust("srv", "py", "cli"), "--renew-ms", "500", "--ttl-ms", "2000"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    common = ["--broker", brk, "--broker-key", keys.public("brk")]
    _, ep, cpp_id = cpp(procs, "reply", "Echo", "--name", "echo-cpp", "--service", "echo",
                        "--key", keys.secret("srv"), "--trust", keys.trust("py", "cli"), *common)
    p = peers.make("py-member", curve=keys.curve("py", "cli"), broker=brk,
                   broker_key=keys.public("brk"), services=["pyecho"])
    p.on("Echo", lambda m: m.payload)
    assert p.wait_registered(5), p.registration_error
    # the listing carries each member's key: we connect to the C++ peer with it
    ms = {m.name: m for m in p.lookup(name="echo-cpp")}
    assert ms["echo-cpp"].public_key == keys.key("srv") and ms["echo-cpp"].id == cpp_id
    assert p.request("echo-cpp", "Echo", "by name").payload == b"by name"
    assert p.request_service("echo", "Echo", "by service").payload == b"by service"
    # and the C++ tool reaches us by name, with the key the broker lists for us
    r = run("request", "py-member", "Echo", "to python", "--key", keys.secret("cli"),
            *common, "--timeout", "5s")
    assert r.returncode == 0 and r.stdout == "to python\n", r.stderr
    mine = [m for m in p.lookup(name="py-member")]
    assert mine and mine[0].public_key == keys.key("py") and mine[0].id == p.id
    # a C++ publisher found through the broker is followed with the key it lists
    _, _, pub_id = cpp(procs, "publish", "b/x", "B", "hi", "--count", "0", "--interval",
                       "20ms", "--name", "pub-cpp", "--key", keys.secret("cli"), "--trust",
                       keys.trust("py"), *common)
    assert wait_for(lambda: any(m.id == pub_id for m in p.members()), 5)
    got = []
    p.subscribe("b/", lambda m: got.append((m.sender, m.payload)), timeout=5)
    assert wait_for(lambda: got, 5) and got[0] == (pub_id, b"hi")

    # a key the broker does not trust: the registration says why, lookups fail fast
    s = peers.make("py-stranger", curve=keys.curve("stranger"), broker=brk,
                   broker_key=keys.key("brk"))
    assert wait_for(lambda: "auth_failed" in s.registration_error, FAST), s.registration_error
    assert "does not trust our key" in s.registration_error and not s.registered
    auth_fails_fast(lambda: s.lookup(name="echo-cpp", timeout=5))
    # a plaintext peer meeting the CURVE broker
    pl = peers.make("py-plain", broker=brk)
    assert wait_for(lambda: "auth_failed" in pl.registration_error, 2), pl.registration_error


# -- rule 62: the greeting checks the id against the key -------------------------------------
def curve_dealer(ctx, keys, name, server_key):
    c = security.load_certificate(keys.secret(name))
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.curve_secretkey = c.secret_key.encode()
    s.curve_publickey = c.public_key.encode()
    s.curve_serverkey = server_key.encode()
    return s, c.public_key


def test_rule62_a_hello_claiming_an_id_or_key_not_its_own_is_rejected_not_allowed(keys, peers,
                                                                                 raws):
    p = peers.make("py-srv", curve=keys.curve("py", "cli", "stranger"))
    got = []
    p.on("Note", lambda m: got.append((m.sender, m.sender_key)))
    cli_key, other_key = keys.key("cli"), keys.key("stranger")
    cli_id = zmesh.peer_id_for_key(cli_key)
    ctx = zmq.Context()
    made = []
    try:
        cases = [(zmesh.peer_id_for_key(other_key), ""),     # another key's id
                 (rand64(), ""),                             # an id bound to no key of ours
                 (cli_id, other_key)]                        # our id, another key announced
        for claimed_id, claimed_key in cases:
            s, _ = curve_dealer(ctx, keys, "cli", keys.key("py"))
            made.append(s)
            s.connect(p.endpoint)
            r = raws()
            r.s.close(0)
            r.s, r.id, r.close = s, claimed_id, (lambda: None)
            r.hello(info=r.info(public_key=claimed_key))
            h, f = r.recv_kind(codec.REJECT, 3)
            assert h is not None, (claimed_id, claimed_key)
            code, reason = codec.decode_code_text(f[-1], True)[0]
            assert code == EC["NotAllowed"] and f"{cli_id:016x}" in reason, reason
        assert p.stats()["identity_refused"] == 3
        # the id of its key (announcing the key or not) is welcomed, and the Welcome names
        # the server's own key; what it sends carries its authenticated key
        for announced in ("", cli_key):
            s, _ = curve_dealer(ctx, keys, "cli", keys.key("py"))
            made.append(s)
            s.connect(p.endpoint)
            r = raws()
            r.s.close(0)
            r.s, r.id, r.close = s, cli_id, (lambda: None)
            r.hello(info=r.info(public_key=announced))
            h, f = r.recv_kind(codec.WELCOME, 3)
            assert h is not None
            w = codec.decode_welcome(f[-1])[0]
            assert (w.info.id, w.info.public_key) == (p.id, keys.key("py"))
            r.send([], codec.MESSAGE, 0, b"x", type_=b"Note")
            assert wait_for(lambda: got, 3)
            assert got.pop() == (cli_id, cli_key)
            r.send([], codec.BYE)
    finally:
        for s in made:
            s.close(0)
        ctx.term()


def test_rule62_a_welcome_from_an_id_not_bound_to_the_server_key_fails_not_allowed(keys, peers):
    ctx = zmq.Context()  # no ZAP handler in this context: the raw server admits every key
    try:
        srv = security.load_certificate(keys.secret("srv"))
        router = ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.curve_server = True
        router.curve_secretkey = srv.secret_key.encode()
        port = router.bind_to_random_port("tcp://127.0.0.1")
        ep = f"tcp://127.0.0.1:{port}"
        c = peers.make("py-cli", curve=keys.curve("cli"))
        def serve(claim_id, claim_key=""):
            if not router.poll(3000):
                return
            ident, hb, _ = router.recv_multipart()
            h, _ = codec.decode_header(hb)
            info = Info(claim_id, rand64(), "liar", public_key=claim_key)
            router.send_multipart([ident, codec.encode_header(codec.WELCOME, claim_id,
                                                              info.session, h.correlation_id),
                                   codec.encode_welcome(info, 1000)])
        bound = zmesh.peer_id_for_key(srv.public_key)
        for claim_id, claim_key in ((bound ^ 0xff, ""), (bound, keys.key("stranger"))):
            fut = c.connect_future(ep, key=srv.public_key)
            serve(claim_id, claim_key)
            with pytest.raises(zmesh.NotAllowed, match="bound to id"):
                fut.result(3)
        assert c.stats()["identity_refused"] == 2
        # the right id is welcomed
        fut = c.connect_future(ep, key=srv.public_key)
        serve(bound)
        assert fut.result(3) == bound
        router.close(0)
    finally:
        ctx.term()


# -- rule 60: nothing readable on the wire ---------------------------------------------------
class Relay:
    """A TCP relay on loopback that keeps every byte it carries."""

    def __init__(self, target_port):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.port = self.ls.getsockname()[1]
        self.target = target_port
        self.seen = bytearray()
        self.lock = threading.Lock()
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        pairs = {}
        while not self.stop:
            r, _, _ = select.select([self.ls, *pairs], [], [], 0.05)
            for s in r:
                if s is self.ls:
                    a, _ = self.ls.accept()
                    b = socket.create_connection(("127.0.0.1", self.target))
                    pairs[a], pairs[b] = b, a
                    continue
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    o = pairs.pop(s, None)
                    pairs.pop(o, None)
                    for x in (s, o):
                        if x:
                            x.close()
                    continue
                with self.lock:
                    self.seen += data
                try:
                    pairs[s].sendall(data)
                except (OSError, KeyError):
                    pass
        for s in pairs:
            s.close()
        self.ls.close()

    def bytes(self):
        with self.lock:
            return bytes(self.seen)

    def close(self):
        self.stop = True
        self.t.join(2)


@pytest.mark.parametrize("curve", [True, False], ids=["curve", "plaintext"])
def test_rule60_with_curve_no_payload_type_or_topic_appears_on_the_wire(keys, peers, curve):
    payload, type_, topic = b"SECRET-PAYLOAD-4711", "SecretType", "secret/topic-0815"
    cv = (lambda n, *t: keys.curve(n, *t)) if curve else (lambda n, *t: None)
    srv = peers.make("py-srv", curve=cv("py", "cli"))
    srv.on(type_, lambda m: m.payload)
    cli = peers.make("py-cli", curve=cv("cli", "py"))
    port = int(srv.endpoint.rsplit(":", 1)[1])
    pport = int(srv.pub_endpoint.rsplit(":", 1)[1])
    relay, prelay = Relay(port), Relay(pport)
    try:
        kw = dict(key=keys.key("py")) if curve else {}
        cli.connect(f"tcp://127.0.0.1:{relay.port}", **kw)
        assert cli.request(f"tcp://127.0.0.1:{relay.port}", type_, payload).payload == payload
        got = []
        # another peer subscribes (cli follows srv's own PUB endpoint since it greeted it)
        sub = peers.make("py-sub", curve=cv("cli"), bind="", pub_bind="")
        sub.subscribe_to(f"tcp://127.0.0.1:{prelay.port}", **kw)
        sub.subscribe(topic, lambda m: got.append(m.payload), timeout=5)
        srv.publish(topic, type_, payload)
        assert wait_for(lambda: got, 3) == [payload]
        wire = relay.bytes() + prelay.bytes()
        assert len(wire) > 200
        for secret in (payload, type_.encode(), topic.encode(), b"py-srv", b"py-cli"):
            assert (secret in wire) == (not curve), secret
    finally:
        relay.close()
        prelay.close()
