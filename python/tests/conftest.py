"""Shared fixtures: the C++ binaries (from $ZMESH_BUILD_DIR, default build/), processes that are always killed by PID, free loopback ports, and `Raw`:
a bare pyzmq socket that plays the other implementation byte by byte."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pytest
import zmq

from zmesh import codec
from zmesh.codec import Info

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# The C++ build tree whose binaries the interop tests run ($ZMESH_BUILD_DIR, default
# build/). Not ZMESH_BROKER_*: zmesh-broker takes every such variable as a setting of its
# own and refuses unknown ones.
BUILD_DIR = os.environ.get("ZMESH_BUILD_DIR", os.path.join(ROOT, "build"))
ZMESH_BIN = os.path.join(BUILD_DIR, "tools", "zmesh")
BROKER_BIN = os.path.join(BUILD_DIR, "broker", "zmesh-broker")
EXAMPLES = os.path.join(ROOT, "examples", "python")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need_binaries():
    for b in (ZMESH_BIN, BROKER_BIN):
        if not os.access(b, os.X_OK):
            pytest.skip(f"{b} not built (set ZMESH_BUILD_DIR)")


class Procs:
    """Starts processes; every one is killed (by its PID) when the test ends."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, args, **kw) -> subprocess.Popen:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        p = subprocess.Popen(args, text=kw.pop("text", True), **kw)
        self.procs.append(p)
        return p

    def broker(self, *extra) -> str:
        need_binaries()
        ep = f"tcp://127.0.0.1:{free_port()}"
        self.start([BROKER_BIN, "--bind", ep, *extra], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
        return ep

    def line(self, p, timeout=5.0, drain=False) -> str:
        """First stdout line of p (e.g. "listening on tcp://... as NAME (id HEX)"). With
        `drain`, the rest of its stdout is read on a thread into p.rest, so that a process
        printing a line per request never blocks on a full pipe."""
        import selectors
        import threading
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError(f"no output from {p.args} in {timeout} s")
        first = p.stdout.readline()
        if drain:
            p.rest = []

            def run():
                try:
                    for line in p.stdout:
                        p.rest.append(line)
                except (ValueError, OSError):
                    pass
            threading.Thread(target=run, daemon=True).start()
        return first

    def kill_all(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()


@pytest.fixture
def procs():
    ps = Procs()
    yield ps
    ps.kill_all()


@pytest.fixture
def peers():
    """Peers made through `peers.make(...)` are stopped at the end of the test."""
    import zmesh
    made = []

    class Maker:
        def make(self, name="py", **kw):
            p = zmesh.Peer(name, **kw)
            made.append(p)
            return p
    yield Maker()
    for p in made:
        p.stop(0.2)


def rand64():
    return int.from_bytes(os.urandom(8), "little") | 1


class Raw:
    """A bare ZeroMQ socket speaking zmesh by hand (the role of the C++ Conformance tests)."""

    def __init__(self, kind=zmq.DEALER, id=None, session=None, name="raw"):
        self.ctx = zmq.Context.instance()
        self.s = self.ctx.socket(kind)
        self.s.setsockopt(zmq.LINGER, 0)
        self.id = id or rand64()
        self.session = session or rand64()
        self.name = name
        self.corr = 1000

    def next_corr(self):
        self.corr += 1
        return self.corr

    def info(self, **kw):
        d = dict(id=self.id, session=self.session, name=self.name)
        d.update(kw)
        return Info(**d)

    def hdr(self, kind, corr=0, type_=b"", deadline_ms=0, sequence=0, flags=0, version=1,
            session=None):
        return codec.encode_header(kind, self.id, self.session if session is None else session,
                                   corr, type_, deadline_ms, sequence, flags, version)

    def hello(self, interval=1000, version=1, min_version=0, hversion=1, info=None):
        corr = self.next_corr()
        self.s.send_multipart([self.hdr(codec.HELLO, corr, version=hversion),
                               codec.encode_hello(info or self.info(), interval, version,
                                                  min_version)])
        return corr

    def recv(self, timeout=2.0):
        if not self.s.poll(int(timeout * 1000)):
            return None
        return self.s.recv_multipart()

    def recv_kind(self, want, timeout=2.0, router=False):
        """Next message of kind `want` (skipping Pings, answering them); (hdr, frames)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            f = self.recv(end - time.monotonic())
            if f is None:
                return None, None
            h, why = codec.decode_header(f[-2])
            assert why is None, why
            if h.kind == codec.PING and want != codec.PING:
                self.send(f[:-2], codec.PONG, h.correlation_id, f[-1])
                continue
            if h.kind == want:
                return h, f
        return None, None

    def send(self, prefix, kind, corr=0, payload=b"", **kw):
        self.s.send_multipart([*prefix, self.hdr(kind, corr, **kw), payload])

    def greet(self, ep, interval=1000):
        self.s.connect(ep)
        corr = self.hello(interval)
        h, f = self.recv_kind(codec.WELCOME)
        assert h is not None and h.correlation_id == corr
        return codec.decode_welcome(f[-1])[0]

    def close(self):
        self.s.close(0)


@pytest.fixture
def raws():
    made = []

    def make(*a, **kw):
        r = Raw(*a, **kw)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


def wait_for(cond, timeout=5.0, step=0.01):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()
