"""The engine: the one thread that owns every socket of a Peer (the ZeroMQ way).

It owns the ROUTER (bound), one DEALER per outbound connection, the XPUB (bound), the
SUB, the DEALER to the broker, the pending-request table and every timer (deadlines,
heartbeats, liveness, connect timeouts, renewals, sync rounds). It never runs user
code: application messages go to the workers' bounded queues; when one is full the
engine stops reading the network until there is room again.

This file: the loop, connections and greetings, requests, liveness. Publish/subscribe is
in engine_pubsub.py, the broker client in engine_broker.py (mixins of Engine, same thread).
"""
from __future__ import annotations

import collections
import heapq
import itertools
import os
import threading
import time

import zmq

from . import codec, errors, security
from .broadcast_state import RetainedStore, SequenceAnnouncer
from .codec import EC, Hdr, Info
from .engine_broker import BrokerClient
from .engine_pubsub import PubSub
from .engine_util import (Broker, Conn, LookupOp, Pend, _fail, _member, _now, _ok,
                          _rng, _wall_ms)
from .peer import Response

_NOBLOCK, _NOBLOCK_MORE = int(zmq.NOBLOCK), int(zmq.NOBLOCK | zmq.SNDMORE)
_RCVMORE = int(zmq.RCVMORE)


def _socket_primitives():
    """send, recv and get of pyzmq's backend Socket class, called unbound: the sugar
    Socket.send is a Python wrapper (routing_id/group arguments) around the backend's,
    and recv_multipart a Python loop around recv and getsockopt(RCVMORE). For the bytes
    frames and integer flags the engine passes they do the same thing. The sugar methods
    if this pyzmq is built otherwise."""
    try:
        base = zmq.backend.Socket
        if issubclass(zmq.Socket, base):
            return base.send, base.recv, base.get
    except Exception:
        pass
    return zmq.Socket.send, zmq.Socket.recv, zmq.Socket.getsockopt


_zsend, _zrecv, _zget = _socket_primitives()


class Engine(PubSub, BrokerClient):
    def __init__(self, peer):
        self.p = peer
        self.ctx = zmq.Context()
        self.thread = threading.Thread(target=self.run, name="zmesh-engine", daemon=True)
        self.corr = itertools.count(1)
        self.tie = itertools.count()
        self.next_timers = 0.0
        self.later: list = []       # heap of (when, tie, fn): work for later (rule 39 retries)
        self.last_uptime_ms = None  # uptime_ms of the broker's last listing
        self.router = self.xpub = self.sub = None
        self.broker: Broker | None = None  # the first of self.brokers (None: no broker)
        self.brokers: list = []     # one Broker per broker of the list (5.7, several brokers)
        self.bsocks: dict = {}      # broker DEALER -> its Broker
        self.lookups_waiting: list = []  # lookups no broker could take yet (none connected)
        self.last_answer_broker = None   # the broker that answered the last lookup
        self.by_sock: dict = {}
        self.by_ep: dict = {}
        self.by_ident: dict = {}
        self.by_id: dict = {}
        self.pending: dict = {}
        # (future, Response) of the replies read in the current batch: resolved when the
        # batch ends (_read), so that the waiting thread wakes (and takes the GIL) once per
        # batch rather than once per reply
        self.replied: list = []
        self.cmd_fns: dict = {}     # command name -> bound cmd_ method (_drain_commands)
        self.deadlines: list = []   # heap of (deadline, tie, corr, lookup future or None)
        # timeout -> deque of (deadline, corr): the deadlines of requests, one FIFO per
        # timeout value (deadlines of one timeout come in order: now + timeout), so that
        # tracking and expiring one costs O(1) instead of a push and a pop on a heap of
        # every request of the last `timeout` seconds (_track_deadline, _timers)
        self.req_deadlines: dict = {}
        self.backlog = collections.deque()
        self.stopping = False
        self.running = True
        self.announcer = SequenceAnnouncer()  # our sequence per topic; the heartbeat (5.9)
        self.retained = RetainedStore(peer.retain)  # last values kept for late joiners (5.10)
        self.next_announce = 0.0     # when the broadcast heartbeat is next due
        self.pubs: dict = {}         # publisher id -> {"session", "topics", "received", "missed"}
        self.followed: dict = {}     # pub endpoint -> set of reasons
        self.sub_counts: dict = {}   # prefix -> subscriptions
        self.syncs: list = []
        self.sync_counter = 0
        self.members: dict = {}      # id -> MemberInfo
        self.rr: dict = {}           # service -> round-robin counter
        self.stats = collections.Counter()
        self.poller_dirty = True
        self.poller = None
        self.own_ms = int(round(peer.heartbeat_interval * 1000))
        # CURVE (protocol.md 5.8, docs/security.md): the options, the ZAP handler of our
        # servers, the server keys of endpoints given by the application, the handshake
        # monitors of the SUB and the broker DEALER (a DEALER's is in its Conn).
        self.curve = peer.curve
        self.zap = None
        self.server_keys: dict = {}  # endpoint -> public key (connect(ep, key), subscribe_to)
        self.pub_keys: dict = {}     # pub endpoint -> the key our SUB connected to it with
        self.sub_mon = self.broker_mon = None

    # -- setup ---------------------------------------------------------------------------
    def _socket(self, kind):
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 200)
        s.setsockopt(zmq.SNDHWM, self.p.hwm)
        s.setsockopt(zmq.RCVHWM, self.p.hwm)
        return s

    def bind_sockets(self):
        p = self.p
        curve = self.curve
        try:
            if curve.enabled:
                # before any server socket binds: one bound earlier would admit every key
                self.zap = security.ZapHandler(self.ctx, security.TrustStore(curve))
            if p.bind:
                self.router = self._socket(zmq.ROUTER)
                self.router.setsockopt(zmq.ROUTER_MANDATORY, 1)
                security.set_curve_server(self.router, curve)
                self.router.bind(p.bind)
                p.endpoint = self.router.getsockopt(zmq.LAST_ENDPOINT).decode()
            if p.pub_bind:
                self.xpub = self._socket(zmq.XPUB)
                self.xpub.setsockopt(zmq.XPUB_VERBOSE, 1)
                security.set_curve_server(self.xpub, curve)
                self.xpub.bind(p.pub_bind)
                p.pub_endpoint = self.xpub.getsockopt(zmq.LAST_ENDPOINT).decode()
            self.sub = self._socket(zmq.SUB)
            self.sub_mon = security.HandshakeMonitor(self.ctx, self.sub, curve.enabled)
            for i, ep in enumerate(p.brokers):  # one DEALER per broker of the list
                s = self._socket(zmq.DEALER)
                s.setsockopt(zmq.IMMEDIATE, 1)  # nothing queues for a broker that is not there
                s.setsockopt(zmq.RECONNECT_IVL_MAX, 500)  # a restarted broker is found soon
                b = Broker(s, ep, p.register_with_brokers)
                self.brokers.append(b)
                self.bsocks[s] = b
                security.set_curve_client(s, curve, self._broker_key(i))
                b.mon = security.HandshakeMonitor(self.ctx, s, curve.enabled)
                s.connect(ep)
            self.broker = self.brokers[0] if self.brokers else None
            self.broker_mon = self.broker.mon if self.broker else None
        except zmq.ZMQError as e:
            self._close_all()
            raise errors.InvalidArgument(f"cannot bind: {e}") from None
        except errors.ZmeshError:
            self._close_all()
            raise

    def info(self) -> Info:
        p = self.p
        return Info(p.id, p.session, p.name, [p.endpoint] if p.endpoint else [],
                    [p.pub_endpoint] if p.pub_endpoint else [], list(p.services),
                    self.curve.public_key if self.curve.enabled else "")

    def hdr(self, kind, corr=0, type_=b"", deadline_ms=0, sequence=0, flags=0):
        return codec.encode_header(kind, self.p.id, self.p.session, corr, type_, deadline_ms,
                                   sequence, flags)

    # -- main loop -----------------------------------------------------------------------
    def _rebuild_poller(self):
        pl = zmq.Poller()
        pl.register(self.p._wake_r, zmq.POLLIN)
        net = [s for s in (self.router, self.sub) if s] + [b.sock for b in self.brokers]
        net += list(self.by_sock)
        if self.xpub:
            pl.register(self.xpub, zmq.POLLIN)
        if self.zap:
            pl.register(self.zap.sock, zmq.POLLIN)
        for s in net:
            pl.register(s, zmq.POLLIN)
        self.poller = pl
        self.poller_dirty = False

    def run(self):
        if self.broker:
            self.broker.next_renew = 0.0
        while self.running:
            if self.poller_dirty:
                self._rebuild_poller()
            self._flush_backlog()
            try:
                events = dict(self.poller.poll(0 if self.p._cmds.qsize() else 10))
            except zmq.ZMQError:
                events = {}
            if self.p._wake_r in events:
                try:
                    os.read(self.p._wake_r, 4096)
                except BlockingIOError:
                    pass
            self._drain_commands()
            if not self.running:
                break
            for sock in list(events):
                if sock == self.p._wake_r:
                    continue
                if self.zap and sock is self.zap.sock:
                    self.zap.handle()
                    continue
                self._read(sock)
            try:
                now = _now()
                if now >= self.next_timers:  # timers run every 2 ms at most
                    self.next_timers = now + 0.002
                    self._timers()
            except Exception:
                self.stats["internal_errors"] += 1
        self._shutdown()

    def _read(self, sock):
        try:
            self._read_batch(sock)
        finally:
            if self.replied:
                self._resolve_replied()

    def _resolve_replied(self):
        done, self.replied = self.replied, []
        for fut, resp in done:
            try:  # _ok without its done() check: set_result raises if the future is done
                fut.set_result(resp)
            except Exception:
                pass

    def _read_batch(self, sock):
        c = self.by_sock.get(sock)
        if c is not None and sock is not self.router and sock is not self.xpub \
                and sock is not self.sub and sock not in self.bsocks:
            return self._read_dealer(sock, c)
        for _ in range(256):  # bounded batches: every socket and timer gets its turn
            if self.backlog and sock is not self.xpub:
                return
            key = ""
            try:
                if self.zap and sock is self.router:
                    # the key the connection authenticated with (ZAP's User-Id)
                    fs = sock.recv_multipart(zmq.NOBLOCK, copy=False)
                    key = fs[-1].get("User-Id") or ""
                    frames = [f.bytes for f in fs]
                else:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            except zmq.ZMQError:
                return
            try:
                if sock is self.router:
                    self._on_router(frames, key)
                elif sock is self.xpub:
                    self._on_xpub(frames)
                elif sock is self.sub:
                    self._on_sub(frames)
                elif sock in self.bsocks:
                    self._on_broker(self.bsocks[sock], frames)
                else:
                    c = self.by_sock.get(sock)
                    if c is None:
                        return
                    self._on_dealer(c, frames)
                    if c.state == "closed":
                        return
            except Exception:  # never let one message stop the engine: count and go on
                self.stats["internal_errors"] += 1

    def _read_dealer(self, sock, c):
        """_read_batch for one of our outbound DEALERs (the replies to our requests): the
        same steps, the connection looked up once per batch, the frames read with the
        backend's recv and RCVMORE."""
        backlog = self.backlog
        on_dealer = self._on_dealer
        for _ in range(256):  # bounded batches: every socket and timer gets its turn
            if backlog:
                return
            try:
                frames = [_zrecv(sock, _NOBLOCK)]
                while _zget(sock, _RCVMORE):
                    frames.append(_zrecv(sock, _NOBLOCK))
            except zmq.ZMQError:  # Again included: nothing more to read
                return
            try:
                on_dealer(c, frames)
                if c.state == "closed":
                    return
            except Exception:  # never let one message stop the engine: count and go on
                self.stats["internal_errors"] += 1

    def _drain_commands(self):
        cq = self.p._cmds
        pop = cq.items.popleft
        fns = self.cmd_fns
        try:
            self._drain(pop, fns)
        finally:
            cq.taken()  # producers waiting for room (a full queue) go on

    def _drain(self, pop, fns):
        for _ in range(4096):
            try:
                cmd = pop()
            except IndexError:
                return
            try:
                fn = fns.get(cmd[0])
                if fn is None:
                    fn = fns[cmd[0]] = getattr(self, "cmd_" + cmd[0])
                fn(*cmd[1:])
            except Exception as e:  # a command's failure belongs to its caller, not the engine
                fut = cmd[-1] if cmd and hasattr(cmd[-1], "set_exception") else None
                if not isinstance(e, errors.ZmeshError):
                    self.stats["command_errors"] += 1
                _fail(fut, e)
            if not self.running:
                return

    # -- workers -------------------------------------------------------------------------
    def _dispatch(self, key, job):
        ws = self.p._workers
        w = ws[hash(key) % len(ws)]
        if self.backlog:
            self.backlog.append((w, job))
            return
        try:
            w.q.put_nowait(job)
        except Exception:
            self.backlog.append((w, job))
            self.stats["backpressure"] += 1

    def _flush_backlog(self):
        while self.backlog:
            w, job = self.backlog[0]
            try:
                w.q.put_nowait(job)
            except Exception:
                return
            self.backlog.popleft()

    # -- sending -------------------------------------------------------------------------
    def _send(self, conn, frames) -> bool:
        try:
            if conn.out:
                if len(frames) == 2 and type(frames[0]) is bytes and type(frames[1]) is bytes:
                    # send_multipart's work (bytes only), without its flag enum arithmetic
                    # and the sugar send's wrapper
                    sock = conn.sock
                    _zsend(sock, frames[0], _NOBLOCK_MORE)
                    _zsend(sock, frames[1], _NOBLOCK)
                else:
                    conn.sock.send_multipart(frames, zmq.NOBLOCK)
            else:
                self.router.send_multipart([conn.ident, *frames], zmq.NOBLOCK)
            return True
        except zmq.Again:
            self.stats["send_full"] += 1
            return False
        except zmq.ZMQError:  # EHOSTUNREACH: the identity is gone
            self.stats["send_failed"] += 1
            return False

    def _send_app(self, conn, kind, corr, type_, payload, deadline_ms, flags):
        if conn.state == "greeting":
            if len(conn.waiting) >= self.p.greeting_queue_depth:
                raise errors.QueueFull(f"{conn.label}: greeting queue full")
            conn.waiting.append((kind, corr, type_, payload, deadline_ms, flags))
            return True
        return self._send(conn, [self.hdr(kind, corr, type_, deadline_ms, 0, flags), payload])

    # -- connections ---------------------------------------------------------------------
    def _open(self, endpoint, key="") -> Conn:
        c = self.by_ep.get(endpoint)
        if c is not None and c.state != "closed":
            return c
        if self.stopping:
            raise errors.ShuttingDown("the peer is stopping")
        key = key or self.server_keys.get(endpoint, "")
        if self.curve.enabled and not key:
            raise errors.InvalidArgument(
                f"CURVE is on and the public key of the peer at '{endpoint}' is not known: give "
                "it to connect(endpoint, key), or find the peer through a broker")
        s = self._socket(zmq.DEALER)
        security.set_curve_client(s, self.curve, key)
        mon = security.HandshakeMonitor(self.ctx, s, self.curve.enabled)
        try:
            s.connect(endpoint)
        except zmq.ZMQError as e:
            mon.close()
            s.close(0)
            raise errors.InvalidArgument(f"bad endpoint '{endpoint}': {e}") from None
        c = Conn(True, sock=s, endpoint=endpoint)
        c.server_key, c.monitor = key, mon
        self.by_sock[s] = c
        self.by_ep[endpoint] = c
        self.poller_dirty = True
        self._greet(c)
        return c

    def _greet(self, c):
        c.state = "greeting"
        c.hello_corr = next(self.corr)
        c.greet_deadline = _now() + self.p.connect_timeout
        c.sock.send_multipart([self.hdr(codec.HELLO, c.hello_corr),
                               codec.encode_hello(self.info(), self.own_ms)])

    def _live(self, c) -> bool:
        w = max(self.own_ms, c.interval_ms) / 1000.0
        return _now() - c.last_heard <= 2 * w

    def _gone(self, c, why, exc_cls=errors.PeerGone, bye=False):
        """Drops a connection; what is pending on it fails at once."""
        if c.state == "closed":
            return
        if bye and c.state == "up":
            self._send(c, [self.hdr(codec.BYE), b""])
        was_greeting = c.state == "greeting"
        c.state = "closed"
        exc = exc_cls(f"{c.label} {why}")
        for corr in list(c.pending):
            pend = self.pending.pop(corr, None)
            if pend:
                if (pend.retry and exc_cls in (errors.PeerGone, errors.PeerUnreachable)
                        and _now() < pend.deadline):
                    self._after(0, pend.retry)  # a service request moves to the next provider
                    continue
                _fail(pend.fut, exc_cls(f"{c.label} {why}"))
        c.pending.clear()
        for f in c.futs:
            _fail(f, exc)
        c.futs.clear()
        c.waiting.clear()
        if c.out:
            self.by_sock.pop(c.sock, None)
            if self.by_ep.get(c.endpoint) is c:
                del self.by_ep[c.endpoint]
            if c.monitor:
                c.monitor.close()
                c.monitor = None
            c.sock.close(0 if not bye else 200)
            self.poller_dirty = True
        elif self.by_ident.get(c.ident) is c:
            del self.by_ident[c.ident]
        if c.info and self.by_id.get(c.info.id) is c:
            del self.by_id[c.info.id]
            # another greeted connection of the same session takes over
            for o in itertools.chain(self.by_sock.values(), self.by_ident.values()):
                if o.state == "up" and o.info and o.info.id == c.info.id:
                    self.by_id[c.info.id] = o
                    break
            else:
                for ep in c.info.pub_endpoints:
                    self._unfollow(ep, ("conn", c.info.id))
        if not was_greeting:
            self.stats["connections_gone"] += 1

    def _adopt(self, c, info: Info, interval_ms):
        """c is greeted as `info`: put it in the registry."""
        c.info, c.interval_ms, c.state = info, interval_ms, "up"
        if c.monitor:  # the handshake is over
            c.monitor.close()
            c.monitor = None
        c.last_heard = _now()
        c.next_ping = _now() + self.own_ms / 1000.0
        if info.id not in self.by_id:
            self.by_id[info.id] = c
        for ep in info.pub_endpoints:
            self._follow(ep, ("conn", info.id))

    def cmd_connect(self, endpoint, key, fut):
        if key:
            self.server_keys[endpoint] = key
        c = self._open(endpoint, key)
        if c.state == "up":
            _ok(fut, c.info.id)
        else:
            c.futs.append(fut)

    def cmd_disconnect(self, peer_id):
        for c in list(itertools.chain(self.by_sock.values(), self.by_ident.values())):
            if c.info and c.info.id == peer_id:
                self._gone(c, "disconnected", bye=True)

    def cmd_connections(self, fut):
        out = []
        for c in itertools.chain(self.by_sock.values(), self.by_ident.values()):
            out.append(dict(peer=c.info.id if c.info else 0, name=c.info.name if c.info else "",
                            outbound=c.out, state=c.state, endpoint=c.endpoint,
                            rtt=c.rtt, suspect=c.suspect, pending=len(c.pending),
                            announced_ms=c.interval_ms))
        _ok(fut, out)

    # -- requests and messages (commands) -------------------------------------------------
    def _resolve(self, target, then, fail):
        """Calls then(conn) (maybe later, after a broker lookup) or fail(exc)."""
        how, what = target
        if how == "id":
            c = self.by_id.get(what)
            if c is None:
                return fail(errors.UnknownPeer(f"no connection to peer {what:016x}"))
            return then(c)
        if how == "ep":
            return then(self._open(what))
        if how == "name":
            ms = [m for m in self.members.values() if m.name == what]
            if ms:
                return then(self._conn_for_member(ms[0]))
            if not self.broker:
                return fail(errors.UnknownPeer(f"no peer named '{what}' (no broker)"))

            deadline = _now() + self.p.request_timeout

            def got(members, exc):
                if exc:
                    return fail(exc)
                ok = [m for m in members if m.name == what and m.endpoints]
                if not ok:
                    wait = min(self._warmup_left(), 0.5)  # as the C++ peer: every 0.5 s
                    if wait > 0 and _now() + wait < deadline:  # rule 39: a young broker
                        return self._after(wait, lambda: self._lookup(
                            what, "", max(0.1, deadline - _now()), got))
                    return fail(errors.UnknownPeer(f"no peer named '{what}' is registered"))
                try:
                    then(self._conn_for_member(ok[0]))
                except errors.ZmeshError as e:
                    fail(e)
            return self._lookup(what, "", self.p.request_timeout, got)
        if how == "service":
            def pick(cands):
                cands = [m for m in cands if m.endpoints]
                if not cands:
                    return fail(errors.UnknownPeer(f"no peer offers service '{what}'"))
                n = self.rr.get(what, 0)
                self.rr[what] = n + 1
                then(self._conn_for_member(cands[n % len(cands)]))
            cands = [m for m in self.members.values() if what in m.services]
            seen = {m.id for m in cands}
            for c in list(self.by_id.values()):
                if c.info and what in c.info.services and c.info.id not in seen:
                    cands.append(_member(c.info))
            if cands or not self.broker:
                return pick(cands)
            return self._lookup("", what, self.p.request_timeout,
                                lambda ms, exc: fail(exc) if exc else pick(ms))
        return fail(errors.InvalidArgument(f"bad target {target!r}"))

    def _conn_for_member(self, m):
        c = self.by_id.get(m.id)
        if c is not None and c.info.session == m.session:
            return c
        if not m.endpoints:
            raise errors.PeerUnreachable(f"peer '{m.name}' announces no endpoint")
        return self._open(m.endpoints[0], getattr(m, "public_key", ""))

    def cmd_send(self, target, type_, payload):
        if self.stopping:
            return

        def then(c):
            self._send_app(c, codec.MESSAGE, 0, type_, payload, 0, 0)
        self._resolve(target, then, lambda exc: self.stats.update(["send_unresolved"]))

    def cmd_request(self, target, type_, payload, timeout, no_reply, fut):
        if self.stopping:
            return _fail(fut, errors.ShuttingDown("the peer is stopping"))
        now = _now()
        deadline = now + timeout
        deadline_ms = _wall_ms() + int(timeout * 1000)
        flags = codec.FLAG_NO_REPLY if no_reply else 0
        how = target[0]
        if how == "ep" or how == "id":
            # What _resolve and `then` below do for a target that needs no lookup (and so
            # no retry), without building the closures: a request per command when
            # pipelined, so this is the engine's hottest path.
            if how == "ep":
                c = self._open(target[1])
            else:
                c = self.by_id.get(target[1])
                if c is None:
                    return _fail(fut, errors.UnknownPeer(f"no connection to peer {target[1]:016x}"))
            if not fut.done():
                self._start_request(c, fut, type_, payload, timeout, deadline, deadline_ms,
                                    flags, no_reply, now)
            return

        tries = [0]

        def then(c):
            if fut.done():
                return
            tries[0] += 1
            retry = None
            if target[0] == "service" and tries[0] < 8:
                retry = lambda: self._resolve(target, then, lambda exc: _fail(fut, exc))  # noqa: E731
            self._start_request(c, fut, type_, payload, timeout, deadline, deadline_ms, flags,
                                no_reply, _now(), retry)

        if target[0] in ("name", "service"):
            # a lookup's own deadline is the request's: fail the future when it ends
            heapq.heappush(self.deadlines, (deadline, next(self.tie), 0, fut))
        self._resolve(target, then, lambda exc: _fail(fut, exc))

    def _start_request(self, c, fut, type_, payload, timeout, deadline, deadline_ms, flags,
                       no_reply, now, retry=None):
        """Sends a request on connection c and tracks it until its answer or deadline."""
        corr = next(self.corr)
        if no_reply:
            self._send_app(c, codec.REQUEST, corr, type_, payload, deadline_ms, flags)
            return _ok(fut, None)
        pend = Pend(corr, fut, c, deadline, type_, payload, deadline_ms, flags, now)
        pend.retry = retry
        self.pending[corr] = pend
        c.pending.add(corr)
        self._track_deadline(timeout, deadline, corr)
        if c.state == "up" and c.out and type(payload) is bytes:
            # _send_app -> _send for a greeted DEALER, inline: the hottest path when pipelined
            p = self.p
            sock = c.sock
            try:
                _zsend(sock, codec.encode_header(codec.REQUEST, p.id, p.session, corr, type_,
                                                 deadline_ms, 0, flags), _NOBLOCK_MORE)
                _zsend(sock, payload, _NOBLOCK)
                return
            except zmq.Again:
                self.stats["send_full"] += 1
            except zmq.ZMQError:
                self.stats["send_failed"] += 1
            sent = False
        else:
            try:
                sent = self._send_app(c, codec.REQUEST, corr, type_, payload, deadline_ms, flags)
            except errors.ZmeshError as e:
                self._end(corr)
                return _fail(fut, e)
        if not sent:
            self._end(corr)
            _fail(fut, errors.QueueFull(f"{c.label}: cannot send now (high-water mark)"))

    def _track_deadline(self, timeout, deadline, corr):
        """The request `corr` fails with Timeout at `deadline` unless answered before."""
        q = self.req_deadlines.get(timeout)
        if q is None and len(self.req_deadlines) < 16:
            q = self.req_deadlines[timeout] = collections.deque()
        if q is None or (q and q[-1][0] > deadline):
            # many distinct timeouts, or out of order (a request sent after a lookup): the
            # heap, which takes any order
            heapq.heappush(self.deadlines, (deadline, next(self.tie), corr, None))
        else:
            q.append((deadline, corr))

    def _expire(self, corr, now):
        pend = self._end(corr)
        if pend:
            _fail(pend.fut, errors.Timeout(
                f"request '{pend.type.decode(errors='replace')}' to {pend.conn.label} "
                f"got no answer within {now - pend.sent:.3f} s"))

    def _end(self, corr):
        pend = self.pending.pop(corr, None)
        if pend:
            pend.conn.pending.discard(corr)
        return pend

    # -- incoming ------------------------------------------------------------------------
    def _drop(self, why):
        self.stats["dropped"] += 1
        self.stats["dropped_" + why] += 1

    def _on_dealer(self, c, frames):
        why = codec.check_sizes("dealer", frames, self.p.limits)
        if why:
            return self._drop(why)
        h, why = codec.decode_header(frames[0], self.p.limits)
        if why:
            return self._drop(why)
        payload = frames[1]
        if c.state == "greeting":
            if h.correlation_id != c.hello_corr or h.kind not in (codec.WELCOME, codec.REJECT):
                return self._drop("before_welcome")
            if h.kind == codec.REJECT:
                ct, why = codec.decode_code_text(payload, True, self.p.limits)
                if why:
                    return self._gone(c, "refused the greeting (undecodable Reject)",
                                      errors.Malformed)
                code, reason = ct
                e = errors.errc_of_reject_code(code)
                return self._gone(c, f"rejected the greeting: {reason}", errors.BY_ERRC[e])
            g, why = codec.decode_welcome(payload, self.p.limits)
            if why:
                return self._gone(c, f"sent a bad Welcome ({why})", errors.Malformed)
            if not 1 <= g.version <= codec.PROTOCOL_VERSION:
                return self._gone(c, f"welcomed us at version {g.version}, we offered 1..1",
                                  errors.UnsupportedVersion, bye=False)
            if self.curve.enabled:
                # the server proved it holds c.server_key: its id must be the key's (5.8)
                bound = security.peer_id_for_key(c.server_key)
                if g.info.id != bound or (g.info.public_key
                                          and g.info.public_key != c.server_key):
                    self.stats["identity_refused"] += 1
                    return self._gone(c, f"answered as id {g.info.id:016x}, but its key "
                                         f"({security.short_key(c.server_key)}) is bound to id "
                                         f"{bound:016x}", errors.NotAllowed)
                g.info.public_key = c.server_key
            old = self.by_id.get(g.info.id)
            if old is not None and old is not c and old.info.session != g.info.session:
                if self._live(old):
                    c.state = "up"  # so that _gone says Bye on it
                    return self._gone(c, "is another live session of a connected peer id",
                                      errors.DuplicateId, bye=True)
                self._gone(old, "restarted (a new session took its id)")
            self._adopt(c, g.info, g.interval_ms)
            for f in c.futs:
                _ok(f, g.info.id)
            c.futs.clear()
            waiting, c.waiting = c.waiting, []
            for kind, corr, t, p, dl, fl in waiting:
                if corr and corr not in self.pending and kind == codec.REQUEST and not fl:
                    continue  # timed out meanwhile
                self._send(c, [self.hdr(kind, corr, t, dl, 0, fl), p])
            return
        self._traffic(c, h, payload)

    def _on_router(self, frames, key=""):
        why = codec.check_sizes("router", frames, self.p.limits)
        if why:
            if why == "payload_too_large":
                h, _ = codec.decode_header(frames[1], self.p.limits)
                c = self.by_ident.get(frames[0])
                if h and h.kind == codec.REQUEST and c and not h.flags & codec.FLAG_NO_REPLY:
                    self._send(c, [self.hdr(codec.ERROR, h.correlation_id),
                                   codec.encode_error(EC["TooLarge"],
                                                      "payload over the limit of "
                                                      f"{self.p.limits.max_payload_bytes} bytes")])
            return self._drop(why)
        ident, hb, payload = frames
        h, why = codec.decode_header(hb, self.p.limits)
        if why:
            return self._drop(why)
        if h.kind == codec.HELLO:
            return self._on_hello(ident, h, payload, key)
        c = self.by_ident.get(ident)
        if c is None or c.state != "up":
            if h.kind in (codec.REQUEST, codec.PING):
                try:
                    self.router.send_multipart(
                        [ident, self.hdr(codec.ERROR, h.correlation_id),
                         codec.encode_error(EC["UnknownPeer"], "greet first: send a Hello")],
                        zmq.NOBLOCK)
                except zmq.ZMQError:
                    pass
            return self._drop("ungreeted")
        self._traffic(c, h, payload)

    def _reject(self, ident, corr, code, reason):
        self.stats["greetings_refused"] += 1
        try:
            self.router.send_multipart([ident, self.hdr(codec.REJECT, corr),
                                        codec.encode_reject(EC[code], reason)], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass

    def _on_hello(self, ident, h, payload, key=""):
        corr = h.correlation_id
        if h.version != codec.PROTOCOL_VERSION:
            return self._reject(ident, corr, "UnsupportedVersion",
                                f"Hello header version {h.version}; we speak 1..1")
        g, why = codec.decode_hello(payload, h, self.p.limits)
        if why:
            return self._reject(ident, corr, "BadRequest" if why == "bad_value" else "Malformed",
                                f"Hello refused: {why}")
        if self.curve.enabled:
            # The identity rule (5.8): the id is the one bound to the key the connection
            # authenticated with, and the key it announces (if any) is that key.
            bound = security.peer_id_for_key(key)
            pk = g.info.public_key
            if bound == 0 or g.info.id != bound or (pk and pk != key):
                self.stats["identity_refused"] += 1
                return self._reject(ident, corr, "NotAllowed",
                                    f"HELLO claims peer id {g.info.id:016x}, but the key it "
                                    f"authenticated with ({key}) is bound to id {bound:016x}")
            g.info.public_key = key
        v = min(g.version, codec.PROTOCOL_VERSION)
        if v < max(g.min_version, 1):
            return self._reject(ident, corr, "UnsupportedVersion",
                                f"you speak {g.min_version}..{g.version}, we speak 1..1")
        pid = g.info.id
        if pid == self.p.id:
            return self._reject(ident, corr, "SelfConnect", "that is our own id")
        if self.stopping:
            return self._reject(ident, corr, "ShuttingDown", "stopping")
        old = self.by_id.get(pid)
        if old is not None and old.info.session != g.info.session:
            if self._live(old):
                return self._reject(ident, corr, "DuplicateId",
                                    f"id {pid:016x} is in use by a live session")
            self._gone(old, "restarted (a new session took its id)")
        c = self.by_ident.get(ident)
        if c is not None and c.info and c.info.id == pid and c.info.session == g.info.session:
            c.last_heard = _now()  # a second Hello of the same session: changes nothing
        else:
            if c is not None:  # this DEALER greeted before as someone else: move it
                self._gone(c, "greeted again as another peer")
            c = Conn(False, ident=ident)
            self.by_ident[ident] = c
            self._adopt(c, g.info, g.interval_ms)
        self.router.send_multipart([ident, self.hdr(codec.WELCOME, corr),
                                    codec.encode_welcome(self.info(), self.own_ms, v)],
                                   zmq.NOBLOCK)

    def _traffic(self, c, h: Hdr, payload):
        """A message on a greeted connection (either direction)."""
        c.last_heard = _now()
        c.suspect = False
        k = h.kind
        if k in (codec.REPLY, codec.ERROR):
            return self._answer(c, h, payload)
        if k in (codec.REQUEST, codec.MESSAGE):
            return self._handle(c, h, payload)
        if k == codec.PING:
            if codec.decode_ping(payload, self.p.limits)[1]:
                return self._drop("bad_ping")
            return self._send(c, [self.hdr(codec.PONG, h.correlation_id), payload])
        if k == codec.PONG:
            v, why = codec.decode_ping(payload, self.p.limits)
            if not why:
                c.rtt = max(0.0, time.monotonic() - v[1] / 1e6)
            return
        if k == codec.BYE:
            return self._gone(c, "left (Bye)")
        self._drop("unexpected_kind")

    def _answer(self, c, h, payload):
        corr = h.correlation_id
        pend = self.pending.get(corr)
        if pend is None or pend.conn.info is None or pend.conn.info.id != c.info.id:
            self.stats["unmatched"] += 1
            return
        now = _now()
        if now > pend.deadline:  # too late, even if our timer has not run yet
            self._end(corr)
            self.stats["unmatched"] += 1
            return _fail(pend.fut, errors.Timeout(
                f"request '{pend.type.decode(errors='replace')}' to {c.label} got no answer "
                f"in time"))
        if h.kind == codec.REPLY:
            del self.pending[corr]  # _end's work
            pend.conn.pending.discard(corr)
            info = c.info
            self.replied.append((pend.fut, Response(payload, info.id, info.name,
                                                    now - pend.sent)))
            return
        ct, why = codec.decode_code_text(payload, False, self.p.limits)
        if why:
            self._end(h.correlation_id)
            return _fail(pend.fut, errors.Malformed(f"{c.label} sent an undecodable Error"))
        code, text = ct
        if code == EC["UnknownPeer"] and c.out and c.state == "up":
            # our identity at the responder is new (reconnect): greet again, resend
            self.stats["regreetings"] += 1
            self._greet(c)
            c.waiting.append((codec.REQUEST, pend.corr, pend.type, pend.payload,
                              pend.deadline_ms, pend.flags))
            return
        self._end(h.correlation_id)
        e = errors.errc_of_error_code(code)
        _fail(pend.fut, errors.make(e, f"{c.label}: {text}" if text else f"{c.label}: {e.name}",
                                    code))

    def _handle(self, c, h, payload):
        from .peer import Message
        p = self.p
        is_req = h.kind == codec.REQUEST
        want_answer = is_req and not h.flags & codec.FLAG_NO_REPLY
        msg = Message(h.type.decode("utf-8", "replace"), payload, c.info.id, c.info.name, is_req,
                      sender_key=c.info.public_key)
        corr, deadline_ms, t = h.correlation_id, h.deadline_unix_ms, h.type
        if self.stopping:  # no new work while stopping
            if want_answer:
                self._send(c, [self.hdr(codec.ERROR, corr),
                               codec.encode_error(EC["ShuttingDown"], "the peer is stopping")])
            return
        if is_req and c.overloaded:
            # 5.2 Overloaded: it has not read our answers (its pipe, at our hwm, was full):
            # refused without running the handler, counted whether the refusal gets
            # through or not; one that does shows it reads again.
            self.stats["overloaded"] += 1
            if want_answer and self._send(c, [self.hdr(codec.ERROR, corr), codec.encode_error(
                    EC["Overloaded"], "too many answers unread: read the replies first")]):
                c.overloaded = False
            return

        def job():
            kind, out = codec.REPLY, b""
            if deadline_ms and _wall_ms() > deadline_ms:
                kind, out = codec.ERROR, codec.encode_error(
                    EC["DeadlineExceeded"], "deadline passed before the handler ran")
            else:
                handler = p._handlers.get(t)
                if handler is None:
                    kind, out = codec.ERROR, codec.encode_error(
                        EC["NoHandler"], f"no handler for '{msg.type}'")
                else:
                    try:
                        r = handler(msg)
                        out = b"" if r is None else (r.encode() if isinstance(r, str) else bytes(r))
                        if len(out) > p.limits.max_payload_bytes:
                            kind, out = codec.ERROR, codec.encode_error(
                                EC["TooLarge"], "the reply is over the payload limit")
                    except Exception as exc:  # the handler threw: HandlerFailed with its text
                        kind, out = codec.ERROR, codec.encode_error(EC["HandlerFailed"], str(exc))
            if want_answer:
                try:
                    p._post(("answer", c, corr, kind, out), block=True, timeout=60)
                except errors.ZmeshError:
                    pass
        self._dispatch(c.info.id, job)

    def cmd_answer(self, c, corr, kind, payload):
        if c.state != "up":
            self.stats["answers_skipped"] += 1  # the requester is gone
            return
        if not self._send(c, [self.hdr(kind, corr), payload]):
            # Its pipe is full (our hwm of unread answers, bounded in bytes by the hwm and
            # max_payload_bytes): dropped, counted (send_full), and it is overloaded.
            c.overloaded = True

    # -- timers --------------------------------------------------------------------------
    def _timers(self):
        now = _now()
        while self.deadlines and self.deadlines[0][0] <= now:
            _, _, corr, fut = heapq.heappop(self.deadlines)
            if fut is not None:
                _fail(fut, errors.Timeout("no answer in time (resolving the peer)"))
                continue
            self._expire(corr, now)
        if self.req_deadlines:
            for timeout, q in list(self.req_deadlines.items()):
                while q and q[0][0] <= now:
                    self._expire(q.popleft()[1], now)
                if not q:
                    del self.req_deadlines[timeout]
        while self.later and self.later[0][0] <= now:
            heapq.heappop(self.later)[2]()
        own = self.own_ms / 1000.0
        self._check_handshakes()
        for c in list(itertools.chain(self.by_sock.values(), self.by_ident.values())):
            if c.state == "greeting":
                if now > c.greet_deadline:
                    self._gone(c, "unreachable (no Welcome in time)", errors.PeerUnreachable)
                continue
            if c.state != "up":
                continue
            w = max(self.own_ms, c.interval_ms) / 1000.0
            silence = now - c.last_heard
            if self.backlog:
                c.last_heard = max(c.last_heard, now - 2 * w)  # we are not reading: not its fault
                continue
            if silence > max(self.p.heartbeat_timeout, 3 * w):
                self._gone(c, f"gone: silent for {int(silence * 1000)} ms")
                continue
            c.suspect = silence > 2 * w
            if now >= c.next_ping:
                c.next_ping = now + own
                self._send(c, [self.hdr(codec.PING, next(self.corr)),
                               codec.encode_ping(_rng.getrandbits(64) | 1,
                                                 int(time.monotonic() * 1e6))])
        if self.syncs:
            self._sync_timers()
        self._broadcast_timers(now)
        if self.brokers:
            self._broker_timers(now)

    # -- CURVE ---------------------------------------------------------------------------
    def _check_handshakes(self):
        """A refused handshake fails at once with AuthFailed, not at a timeout (5.8): the
        greeting of a DEALER, the syncs waiting on publishers, the broker's lookups."""
        for c in list(self.by_sock.values()):
            if c.monitor and c.state == "greeting":
                why = c.monitor.failed()
                if why:
                    self.stats["auth_failures"] += 1
                    self._gone(c, f"refused the handshake: {why}", errors.AuthFailed)
        why = self.sub_mon.failed() if self.sub_mon else ""
        if why:
            self.stats["auth_failures"] += 1
            text = f"handshake with a publisher failed: {why}"
            for op in list(self.syncs):
                self._end_sync(op)
                _fail(op.fut, errors.AuthFailed(text))
        refused = []
        for b in self.brokers:
            mon = getattr(b, "mon", None)
            why = mon.failed() if mon else ""
            if why:
                self.stats["auth_failures"] += 1
                b.registered = False
                b.auth_error = (f"auth_failed: handshake with the broker at {b.endpoint} "
                                f"failed: {why}")
                b.error = b.auth_error
            elif mon is not None and mon.ok:
                b.auth_error = ""
            refused.append(getattr(b, "auth_error", ""))
        if refused and all(refused):
            # every broker refuses our handshake: lookups fail at once, not at their deadline
            exc = "; ".join(refused)
            for b in self.brokers:
                for corr, op in list(b.ops.items()):
                    if isinstance(op, LookupOp):
                        del b.ops[corr]
                        op.done(None, errors.AuthFailed(exc))
            waiting, self.lookups_waiting = self.lookups_waiting, []
            for op in waiting:
                op.done(None, errors.AuthFailed(exc))

    def cmd_reload_trust(self, fut):
        if not self.zap:
            raise errors.InvalidArgument("CURVE is off: there is no trust to reload")
        _ok(fut, self.zap.trust.reload())

    # -- stop ----------------------------------------------------------------------------
    def cmd_stopping(self):
        self.stopping = True

    def cmd_stats(self, fut):
        s = dict(self.stats)
        if self.broker:  # events and resyncs of every broker; epoch and last Event: the first's
            s.update(broker_events=sum(b.events for b in self.brokers),
                     broker_resyncs=sum(b.resyncs for b in self.brokers),
                     broker_epoch=self.broker.epoch, broker_last_event=self.broker.last_seq)
        s["pending"] = len(self.pending)
        if self.zap:
            s.update(handshakes_accepted=self.zap.accepted, handshakes_refused=self.zap.refused)
        s.update(retained_values=len(self.retained), retained_bytes=self.retained.bytes,
                 announced_topics=self.announcer.active)
        _ok(fut, s)

    def cmd_stop(self):
        self.running = False

    def _shutdown(self):
        if self.replied:
            self._resolve_replied()
        for pend in list(self.pending.values()):
            _fail(pend.fut, errors.ShuttingDown("the peer is stopping"))
        self.pending.clear()
        for c in list(itertools.chain(self.by_sock.values(), self.by_ident.values())):
            self._gone(c, "left (we are stopping)", errors.ShuttingDown, bye=True)
        for op in self.syncs:
            _fail(op.fut, errors.ShuttingDown("the peer is stopping"))
        for op in self.lookups_waiting:
            op.done(None, errors.ShuttingDown("the peer is stopping"))
        self.lookups_waiting = []
        for b in self.brokers:
            for op in list(b.ops.values()):
                if isinstance(op, LookupOp):
                    op.done(None, errors.ShuttingDown("the peer is stopping"))
            b.ops.clear()
            if b.registered:
                self._bsend(codec.BYE, b=b)
        # fail whatever still waits in the command queue
        while True:
            try:
                cmd = self.p._cmds.get_nowait()
            except Exception:
                break
            if cmd and hasattr(cmd[-1], "set_exception"):
                _fail(cmd[-1], errors.ShuttingDown("the peer is stopping"))
        self._close_all()

    def _close_all(self):
        for m in (self.sub_mon, self.broker_mon,
                  *[getattr(b, "mon", None) for b in self.brokers[1:]]):
            if m is not None:
                m.close()
        self.sub_mon = self.broker_mon = None
        for c in list(self.by_sock.values()):
            if c.monitor:
                c.monitor.close()
                c.monitor = None
        if self.zap:
            self.zap.close()
        for s in [self.router, self.xpub, self.sub] + [b.sock for b in self.brokers]:
            if s is not None:
                s.close(200)
        self.ctx.term()
