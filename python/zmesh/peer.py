"""zmesh.Peer: a zmesh peer in Python, the shape of the C++ ``zmesh::Peer``.

Threads. A started Peer runs one engine thread ("zmesh-engine", see engine.py), which
alone owns every ZeroMQ socket, and ``workers`` handler threads ("zmesh-worker-N"). Any
application thread may call any method: a call becomes a command on a bounded queue into
the engine (plus a wake-up byte on a pipe the engine polls), so one thread's sends to
one destination keep their order. No user code runs on the engine thread.

Handlers run on a worker; messages (and broadcasts) from one sender go to the same worker
and run in order, one at a time; different senders' run in parallel. A handler may block
(its worker's queue waits; when a worker queue is full the engine stops reading the
network, so ZeroMQ's high-water marks push back on senders).
"""
from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import os
import queue
import random
import threading
import time
from dataclasses import dataclass

from . import broker_endpoints, codec, errors, security
from .broadcast_state import RetainRule
from .security import CurveOptions
from .codec import LIMITS


@dataclass
class Message:
    """What a handler gets. ``payload`` is bytes; ``sender`` the peer id; for broadcasts
    ``topic`` and ``sequence`` say where it was published, and ``retained`` is True for
    a publisher's retained last value sent because we asked for last values
    (``sync_subscriptions(last=...)``, protocol.md 5.10), not a live broadcast."""

    type: str
    payload: bytes
    sender: int
    sender_name: str = ""
    is_request: bool = False
    topic: bytes = b""
    sequence: int = 0
    retained: bool = False
    sender_key: str = ""  # CURVE: the Z85 key the sender authenticated with; "" for broadcasts


@dataclass
class Response:
    """A request's answer: the reply bytes and who sent them."""

    payload: bytes
    peer: int
    name: str = ""
    rtt: float = 0.0


@dataclass
class MemberInfo:
    """One member of the broker's membership (the C++ ``MemberInfo``)."""

    id: int
    session: int
    name: str
    endpoints: list
    pub_endpoints: list
    services: list
    age_ms: int = 0
    public_key: str = ""  # CURVE: the key the broker vouches for (protocol.md 5.7.1)


class Registration:
    """Keeps a handler (or subscription) registered; ``close()`` (or leaving a ``with``
    block) unregisters it. Idempotent."""

    def __init__(self, undo):
        self._undo = undo

    @property
    def active(self) -> bool:
        return self._undo is not None

    def close(self) -> None:
        undo, self._undo = self._undo, None
        if undo:
            undo()

    reset = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _rand64() -> int:
    return random.SystemRandom().getrandbits(64) | 1


def _as_bytes(x) -> bytes:
    if isinstance(x, str):
        return x.encode("utf-8")
    return bytes(x)


class _Commands:
    """The bounded command queue into the engine: many producers, one consumer (the engine).

    A deque (append and popleft are atomic) instead of ``queue.Queue``, whose put and get
    take a lock and notify a condition each: a pipelined caller posts a command per request.
    Producers serialize on ``_put_lock`` only to keep the bound exact (the length check and
    the append together); the engine takes items without a lock. A producer that finds the
    queue full waits on ``_space``, which the engine notifies after it has taken items."""

    __slots__ = ("items", "depth", "_put_lock", "_space", "_waiting")

    def __init__(self, depth: int):
        self.items: collections.deque = collections.deque()
        self.depth = depth if depth > 0 else 1 << 62  # queue.Queue: <= 0 is unbounded
        self._put_lock = threading.Lock()
        self._space = threading.Condition(threading.Lock())
        self._waiting = 0

    def qsize(self) -> int:
        return len(self.items)

    def put(self, cmd, block=True, timeout=None) -> int:
        """Appends cmd; returns the length after it. Raises queue.Full as Queue.put does
        (block=False and full, or still full after `timeout` seconds; None = no limit)."""
        items = self.items
        with self._put_lock:
            if len(items) < self.depth:
                items.append(cmd)
                return len(items)
        if not block:
            raise queue.Full
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            self._wait_for_space(end)
            with self._put_lock:  # held only to check and append, never while waiting
                if len(items) < self.depth:
                    items.append(cmd)
                    return len(items)

    def _wait_for_space(self, end):
        with self._space:
            self._waiting += 1
            try:
                while len(self.items) >= self.depth:
                    left = 0.05 if end is None else min(0.05, end - time.monotonic())
                    if left <= 0:
                        raise queue.Full
                    # bounded waits: a notify that raced with this check is never lost long
                    self._space.wait(left)
            finally:
                self._waiting -= 1

    def get_nowait(self):
        try:
            cmd = self.items.popleft()
        except IndexError:
            raise queue.Empty from None
        if self._waiting:
            self.taken()
        return cmd

    def taken(self) -> None:
        """The engine took items: wakes producers waiting for space."""
        if self._waiting:
            with self._space:
                self._space.notify_all()


class Peer:
    """A zmesh peer.

    ``Peer(name="pricing", services=["quotes"], broker="tcp://127.0.0.1:7400")`` binds a
    ROUTER (``bind``) and an XPUB (``pub_bind``) on loopback, registers with the broker
    if given, and starts at once (``start=False`` to call ``start()`` yourself). Use it as a
    context manager, or call ``stop()``: it says Bye to everyone and joins its threads.
    Durations are seconds (floats).

    ``broadcast_heartbeat`` (default 0.1 s; 0 = never, else 0.01..60 s): how often our PUB
    announces the latest sequence of the topics published lately (``Sequences``,
    protocol.md 5.9), so that subscribers count losses after the last broadcast they
    received. ``retain``: rules of topics whose last broadcast our PUB keeps for
    subscribers that ask for last values (5.10): each a :class:`RetainRule`, a prefix,
    or a tuple ``(prefix, max_count, max_bytes)``; none by default.

    ``curve`` (a :class:`CurveOptions`, docs/security.md): our key pair and the client
    keys our ROUTER and PUB accept; every socket then speaks CURVE, our id is the one
    bound to our key (``id`` must be 0 or that id), and every server we connect to must
    be known by its key (the broker's listings, ``connect(ep, key=...)``,
    ``subscribe_to(ep, key=...)``). ``broker_key``: the broker's public key (Z85 or a
    certificate file). A refused handshake fails with ``AuthFailed`` at once.
    """

    def __init__(self, name: str = "zmesh", *, services=(), broker: str | None = None,
                 brokers=(), register_with_brokers: bool = True,
                 membership_refresh: float = 5.0,
                 id: int = 0, bind: str = "tcp://127.0.0.1:*",
                 pub_bind: str = "tcp://127.0.0.1:*", workers: int = 4,
                 heartbeat_interval: float = 0.5, heartbeat_timeout: float = 3.0,
                 connect_timeout: float = 3.0, request_timeout: float = 5.0,
                 send_timeout: float = 5.0, ttl: float = 0.0,
                 worker_queue_depth: int = 1024, command_queue_depth: int = 1024,
                 greeting_queue_depth: int = 4096, limits: codec.Limits = LIMITS,
                 hwm: int = 10000, broadcast_heartbeat: float = 0.1, retain=(),
                 curve: CurveOptions | None = None, broker_key: str = "",
                 start: bool = True):
        nb = len(name.encode("utf-8")) if isinstance(name, str) else 0
        if not 1 <= nb <= 128:
            raise errors.InvalidArgument("name must be 1..128 bytes")
        if not 1 <= workers <= 256:
            raise errors.InvalidArgument("workers must be 1..256")
        if not 0.01 <= heartbeat_interval <= 60:
            raise errors.InvalidArgument("heartbeat_interval must be 0.01..60 s")
        if not (broadcast_heartbeat == 0 or 0.01 <= broadcast_heartbeat <= 60):
            raise errors.InvalidArgument("broadcast_heartbeat must be 0 or 0.01..60 s")
        if isinstance(retain, (str, bytes, RetainRule)):
            retain = [retain]
        self.retain = [RetainRule.of(r, limits) for r in retain]
        self.broadcast_heartbeat = float(broadcast_heartbeat)
        if isinstance(services, str):
            services = [services]
        self.curve = (curve or CurveOptions()).validate("Peer(curve=...)")
        self.broker_key = ""
        if self.curve.enabled:
            bound = security.peer_id_for_key(self.curve.public_key)
            if id and id != bound:
                raise errors.InvalidArgument(
                    f"id {id:016x} is not the id bound to our key ({bound:016x}): with CURVE "
                    "the peer id is the key's (give 0)")
            id = bound
        self.name = name
        self.id = id or _rand64()
        self.session = _rand64()
        self.services = list(services)
        self.broker = broker or None
        # brokers (5.7, several brokers): `broker` and `brokers`, each an endpoint or a
        # comma-separated list; a host name with several addresses is one broker per
        # address; duplicates once, in order (broker_endpoints.py, as the C++ peer)
        listed = broker_endpoints.listed(broker, brokers)
        keys = []  # the broker keys given (CURVE)
        if self.curve.enabled and listed:
            # One key for every broker, or a comma-separated list matched to them in order.
            keys = [k.strip() for k in (broker_key or "").split(",") if k.strip()]
            if not keys:
                raise errors.InvalidArgument("CURVE is on: broker_key (the broker's public "
                                             "key) is needed to connect to the broker")
            if len(keys) not in (1, len(listed)):
                raise errors.InvalidArgument(
                    f"broker_key: {len(keys)} keys for {len(listed)} brokers (give one "
                    "for all, or one per broker in order)")
            keys = [security.public_key_from(k, "broker_key") for k in keys]
        self.brokers, per_broker = broker_endpoints.broker_endpoints(
            listed, keys if len(keys) > 1 else ())
        if self.brokers and not self.broker:
            self.broker = ",".join(self.brokers)
        if keys:  # one key for all, or each broker's (engine_broker._broker_key)
            self.broker_key = keys[0] if len(keys) == 1 else ",".join(per_broker)
        # False: lookup-only (no Register: not listed, no Events; the membership is
        # listed again every `membership_refresh` s, 0 = keep none)
        self.register_with_brokers = bool(register_with_brokers)
        if membership_refresh < 0:
            raise errors.InvalidArgument("membership_refresh must be >= 0")
        self.membership_refresh = float(membership_refresh)
        self.bind, self.pub_bind = bind, pub_bind
        self.workers_n = workers
        self.heartbeat_interval, self.heartbeat_timeout = heartbeat_interval, heartbeat_timeout
        self.connect_timeout, self.request_timeout = connect_timeout, request_timeout
        self.send_timeout, self.ttl = send_timeout, ttl
        self.worker_queue_depth, self.greeting_queue_depth = worker_queue_depth, greeting_queue_depth
        self.limits, self.hwm = limits, hwm
        self._cmds = _Commands(command_queue_depth)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._handlers: dict[str, object] = {}
        self._subs: dict[int, tuple[bytes, object]] = {}
        self._gap_handlers: dict[int, object] = {}
        self._lock = threading.Lock()  # guards _handlers, _subs, _gap_handlers, _token
        self._token = 0
        self._engine = None
        self._workers: list = []
        self._state = "new"
        self.endpoint = ""
        self.pub_endpoint = ""
        if start:
            self.start()

    # -- lifetime ------------------------------------------------------------------------
    def start(self) -> "Peer":
        from .engine import Engine
        if self._state != "new":
            raise errors.NotRunning("start() called twice")
        self._engine = Engine(self)
        self._engine.bind_sockets()  # raises on a bind failure, on this thread
        self._workers = [_Worker(self, i) for i in range(self.workers_n)]
        self._state = "running"
        self._engine.thread.start()
        return self

    def stop(self, drain: float = 1.0) -> None:
        """Stops taking work, lets queued handlers finish (within ``drain``), fails our
        pending requests with ShuttingDown, says Bye, closes sockets, joins threads."""
        if self._state != "running":
            return
        self._state = "stopping"
        self._post(("stopping",), block=True)
        end = time.monotonic() + drain
        for w in self._workers:
            w.q.put(None)
        for w in self._workers:
            w.thread.join(max(0.0, end - time.monotonic()))
        self._post(("stop",), block=True)
        self._engine.thread.join(5)
        self._state = "stopped"
        os.close(self._wake_r)
        os.close(self._wake_w)

    close = stop

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __del__(self):
        try:
            if self._state == "running":
                self.stop(0.2)
        except Exception:
            pass

    # -- plumbing ------------------------------------------------------------------------
    def _post(self, cmd, block=True, timeout=None):
        if self._state not in ("running", "stopping"):
            raise errors.NotRunning(f"peer '{self.name}' is not running")
        try:
            n = self._cmds.put(cmd, block, self.send_timeout if timeout is None else timeout)
        except queue.Full:
            raise errors.QueueFull("command queue full") from None
        # Wake the engine only when the queue was empty: otherwise it has not drained it
        # yet and will (it drains until empty, and polls without sleeping while not empty).
        if n <= 1:
            try:
                os.write(self._wake_w, b"x")
            except (BlockingIOError, OSError):
                pass

    def _call(self, *cmd, timeout=2.0):
        fut = concurrent.futures.Future()
        self._post((*cmd, fut))
        return fut.result(timeout)

    def _next_token(self) -> int:
        with self._lock:
            self._token += 1
            return self._token

    # -- handlers ------------------------------------------------------------------------
    def on(self, type: str, handler) -> Registration:
        """Registers ``handler(msg: Message) -> bytes | str | None`` for a message type
        (one per type). Runs on a worker. For a request the result is the reply; raising
        sends the requester ``Error HandlerFailed`` with ``str(exc)``."""
        t = _as_bytes(type)
        if not 1 <= len(t) <= LIMITS.max_type_bytes:
            raise errors.InvalidArgument("type must be 1..128 bytes")
        with self._lock:
            if t in self._handlers:
                raise errors.InvalidArgument(f"a handler for '{type}' is registered already")
            self._handlers[t] = handler

        def undo():
            with self._lock:
                if self._handlers.get(t) is handler:
                    del self._handlers[t]
        return Registration(undo)

    # -- connections ---------------------------------------------------------------------
    def connect(self, endpoint: str, timeout: float | None = None, key: str = "") -> int:
        """Connects to a peer's ROUTER endpoint and greets it; returns its peer id. Several
        connects to one endpoint share one connection. With CURVE, ``key`` is the peer's
        public key (Z85 or a certificate file), kept for later requests to ``endpoint``."""
        return self.connect_future(endpoint, key).result(
            (timeout or self.connect_timeout) + 1.0)

    def connect_future(self, endpoint: str, key: str = "") -> concurrent.futures.Future:
        key = security.public_key_from(key, "connect(key=...)") if key else ""
        fut = concurrent.futures.Future()
        self._post(("connect", endpoint, key, fut))
        return fut

    def disconnect(self, peer: int) -> None:
        """Says Bye and drops the connection; its pending requests fail with PeerGone."""
        self._post(("disconnect", peer))

    def connections(self) -> list[dict]:
        return self._call("connections")

    # -- messaging -----------------------------------------------------------------------
    def _target(self, to):
        """int = peer id; 'tcp://…' = endpoint (connected on demand); other str = a name
        resolved through the broker's membership."""
        if isinstance(to, tuple) and len(to) == 2 and to[0] == "service":
            return to
        if isinstance(to, int):
            return ("id", to)
        if isinstance(to, str) and "://" in to:
            return ("ep", to)
        if isinstance(to, str):
            return ("name", to)
        raise errors.InvalidArgument("a peer is a peer id (int), an endpoint or a name")

    def _check_payload(self, payload) -> bytes:
        p = _as_bytes(payload)
        if len(p) > self.limits.max_payload_bytes:
            raise errors.TooLarge(f"payload of {len(p)} bytes is over the limit of "
                                  f"{self.limits.max_payload_bytes} bytes")
        return p

    def send(self, to, type: str, payload=b"", wait: float | None = None) -> None:
        """Fire-and-forget ``Message``. Returns once queued."""
        p, t = self._check_payload(payload), _as_bytes(type)
        if not 1 <= len(t) <= LIMITS.max_type_bytes:
            raise errors.InvalidArgument("type must be 1..128 bytes")
        self._post(("send", self._target(to), t, p), timeout=wait)

    def request_future(self, to, type: str, payload=b"", timeout: float | None = None,
                       no_reply: bool = False) -> concurrent.futures.Future:
        """A request; the future resolves to a :class:`Response` or raises a ZmeshError
        (Timeout, PeerGone, UnknownPeer, NoHandler, RemoteError, DeadlineExceeded, ...)."""
        # bytes and str (the usual arguments) without the calls of _check_payload/_as_bytes
        p = payload if payload.__class__ is bytes else _as_bytes(payload)
        if len(p) > self.limits.max_payload_bytes:
            self._check_payload(p)  # raises TooLarge
        t = type.encode("utf-8") if type.__class__ is str else _as_bytes(type)
        if not 1 <= len(t) <= LIMITS.max_type_bytes:
            raise errors.InvalidArgument("type must be 1..128 bytes")
        target = ("ep", to) if to.__class__ is str and "://" in to else self._target(to)
        fut = concurrent.futures.Future()
        timeout = self.request_timeout if timeout is None else timeout
        self._post(("request", target, t, p, timeout, no_reply, fut))
        return fut

    def request(self, to, type: str, payload=b"", timeout: float | None = None) -> Response:
        """Synchronous request: returns a :class:`Response` or raises."""
        timeout = self.request_timeout if timeout is None else timeout
        fut = self.request_future(to, type, payload, timeout)
        try:
            return fut.result(timeout + 2.0)
        except concurrent.futures.TimeoutError as e:
            # zmesh.Timeout is one too: the engine's own (it names the request and the
            # peer) passes as it is; only our wait running out says less.
            if isinstance(e, errors.ZmeshError):
                raise
            raise errors.Timeout(f"no answer within {timeout} s") from None

    async def arequest(self, to, type: str, payload=b"", timeout: float | None = None) -> Response:
        """asyncio form of :meth:`request`."""
        return await asyncio.wrap_future(self.request_future(to, type, payload, timeout))

    def request_service(self, service: str, type: str, payload=b"",
                        timeout: float | None = None) -> Response:
        """A request to one of the peers offering ``service`` (round-robin)."""
        timeout = self.request_timeout if timeout is None else timeout
        fut = self.request_future(("service", service), type, payload, timeout)
        return fut.result(timeout + 2.0)

    async def arequest_service(self, service: str, type: str, payload=b"",
                               timeout: float | None = None) -> Response:
        return await asyncio.wrap_future(
            self.request_future(("service", service), type, payload, timeout))

    # -- pub/sub -------------------------------------------------------------------------
    def publish(self, topic, type: str, payload=b"") -> None:
        """Broadcasts on ``topic`` from our PUB. Topics starting with a zero byte are
        reserved (InvalidArgument)."""
        tp, t, p = _as_bytes(topic), _as_bytes(type), self._check_payload(payload)
        if tp.startswith(b"\x00"):
            raise errors.InvalidArgument("topics starting with a zero byte are reserved")
        if len(tp) > LIMITS.max_topic_bytes or not 1 <= len(t) <= LIMITS.max_type_bytes:
            raise errors.InvalidArgument("topic over 256 bytes or type not 1..128 bytes")
        if not self.pub_endpoint:
            raise errors.InvalidArgument("this peer does not publish (pub_bind is empty)")
        self._post(("publish", tp, t, p))

    def subscribe(self, prefix, handler, sync: bool = True, timeout: float = 5.0,
                  last: bool = False) -> Registration:
        """Calls ``handler(msg)`` for broadcasts whose topic starts with ``prefix``, from
        every publisher we follow. With ``sync`` (default) returns once the subscription
        is in effect at every publisher we follow (the sync of 5.6; Timeout otherwise).
        With ``last`` the sync also asks every publisher for the last values it retains
        of topics starting with ``prefix`` (``sync_subscriptions(last=prefix)``)."""
        pf = _as_bytes(prefix)
        if pf.startswith(b"\x00"):
            raise errors.InvalidArgument("topics starting with a zero byte are reserved")
        if last and not sync:
            raise errors.InvalidArgument("last values are asked for in a sync: sync=True")
        if last:
            self._check_last(pf)
        tok = self._next_token()
        with self._lock:
            self._subs[tok] = (pf, handler)
        self._post(("subscribe", pf))

        def undo():
            with self._lock:
                self._subs.pop(tok, None)
            if self._state == "running":
                self._post(("unsubscribe", pf))
        reg = Registration(undo)
        if sync:
            self.sync_subscriptions(timeout, last=pf if last else None)
        return reg

    def subscribe_to(self, pub_endpoint: str, key: str = "") -> None:
        """Follows a publisher's PUB endpoint directly (no greeting needed). With CURVE,
        ``key`` is the publisher's public key (Z85 or a certificate file)."""
        key = security.public_key_from(key, "subscribe_to(key=...)") if key else ""
        self._post(("subscribe_to", pub_endpoint, key))

    def reload_trust(self) -> int:
        """CURVE: reads the trust directory again; returns how many keys are trusted now.
        New handshakes use the new set (connections made before stay)."""
        return self._call("reload_trust")

    def sync_subscriptions(self, timeout: float = 5.0, last=None) -> int:
        """Returns (the number of publishers that confirmed) once every subscription made
        before the call is in effect at every publisher we follow; raises Timeout.

        With ``last`` (a topic prefix, str or bytes; ``""`` = every topic), in the same
        exchange every publisher we follow sends the last values it retains of the topics
        starting with it (protocol.md 5.10, the C++ ``sync_subscriptions_with_last``).
        They reach the matching subscriptions as broadcasts with ``msg.retained`` True and
        their own sequence, each publisher's ahead of what it publishes afterwards; one we
        received already (or something newer on its topic) is not delivered again. They
        are handed to the workers before this returns."""
        pf = None
        if last is not None:
            pf = _as_bytes(last)
            self._check_last(pf)
        fut = concurrent.futures.Future()
        self._post(("sync", timeout, pf, fut))
        return fut.result(timeout + 2.0)

    def _check_last(self, pf: bytes) -> None:
        if pf.startswith(b"\x00"):
            raise errors.InvalidArgument("topics starting with a zero byte are reserved")
        # The values travel on topics of marker + topic: at most 50 bytes of marker
        # before the prefix (as the C++ peer checks).
        if len(pf) + 50 > self.limits.max_topic_bytes:
            raise errors.InvalidArgument("prefix too long to ask for last values")

    def on_gap(self, handler) -> Registration:
        """``handler(publisher_id, topic, missed)`` runs on the publisher's worker, in order
        with its broadcasts, when sequence numbers jumped."""
        tok = self._next_token()
        with self._lock:
            self._gap_handlers[tok] = handler

        def undo():
            with self._lock:
                self._gap_handlers.pop(tok, None)
        return Registration(undo)

    def publishers(self) -> dict:
        """{publisher id: {"received", "missed", "session"}}."""
        return self._call("publishers")

    # -- broker --------------------------------------------------------------------------
    def members(self) -> list[MemberInfo]:
        """The membership as the broker announced it; empty without a broker."""
        return self._call("members")

    def lookup(self, name: str = "", service: str = "", timeout: float = 2.0) -> list[MemberInfo]:
        """Asks the broker (all pages). UnknownPeer without a broker, Timeout when it does
        not answer."""
        fut = concurrent.futures.Future()
        self._post(("lookup", name, service, timeout, fut))
        return fut.result(timeout + 2.0)

    @property
    def registered(self) -> bool:
        """Registered with at least one broker."""
        e = self._engine
        return bool(e and any(b.registered for b in e.brokers))

    @property
    def registration_error(self) -> str:
        """Why a broker refused our registration ("" = none did); with several brokers the
        first refusal, naming that broker."""
        e = self._engine
        for b in (e.brokers if e else []):
            if b.error:
                return b.error if len(e.brokers) == 1 else f"broker at {b.endpoint}: {b.error}"
        return ""

    def broker_states(self) -> list[dict]:
        """Each broker of the list, in order: ``endpoint``, ``registered``, ``error``,
        ``epoch``, ``last_event``, ``live``, ``listed``, ``members`` (the ids of its view),
        ``events``, ``resyncs``, ``register`` (False: lookup-only)."""
        return self._call("brokers")

    def wait_registered(self, timeout: float = 5.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.registered:
                return True
            time.sleep(0.01)
        return self.registered

    def stats(self) -> dict:
        return self._call("stats")


class _Worker:
    """One handler thread and its bounded queue."""

    def __init__(self, peer: Peer, i: int):
        self.peer = peer
        self.q: queue.Queue = queue.Queue(peer.worker_queue_depth)
        self.thread = threading.Thread(target=self.run, name=f"zmesh-worker-{i}", daemon=True)
        self.thread.start()

    def run(self):
        while True:
            item = self.q.get()
            if item is None:
                return
            try:
                item()
            except Exception:  # a handler's failure never kills its worker
                pass
