"""Small pieces of the engine: connection and request records, broker and sync state,
future helpers. Everything here is used on the engine thread only."""
from __future__ import annotations

import random
import time

from .codec import Info


_rng = random.SystemRandom()


def _now() -> float:
    return time.monotonic()


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Conn:
    """One connection to a remote peer: our DEALER (out) or an identity at our ROUTER."""

    __slots__ = ("out", "sock", "ident", "endpoint", "state", "info", "interval_ms",
                 "last_heard", "next_ping", "hello_corr", "greet_deadline", "futs",
                 "waiting", "pending", "rtt", "suspect", "server_key", "monitor", "overloaded")

    def __init__(self, out, sock=None, ident=None, endpoint=""):
        self.out, self.sock, self.ident, self.endpoint = out, sock, ident, endpoint
        self.state = "greeting" if out else "up"
        self.info: Info | None = None
        self.interval_ms = 0
        self.last_heard = _now()
        self.next_ping = 0.0
        self.hello_corr = 0
        self.greet_deadline = 0.0
        self.futs: list = []       # connect() futures waiting for the Welcome
        self.waiting: list = []    # sends held until the Welcome: (kind, corr, type, payload, deadline_ms, flags)
        self.pending: set = set()  # correlation ids of our requests on it
        self.rtt = 0.0
        self.suspect = False
        self.server_key = ""       # CURVE: the public key we connected to it with
        self.monitor = None        # CURVE/plaintext: our DEALER's handshake monitor
        # 5.2 Overloaded: an answer to it found its pipe full (it does not read them):
        # its Requests are refused until an answer gets through again
        self.overloaded = False

    @property
    def label(self) -> str:
        if self.info:
            return f"peer '{self.info.name}' ({self.info.id:016x})"
        return f"peer at {self.endpoint}"


class Pend:
    __slots__ = ("corr", "fut", "conn", "deadline", "type", "payload", "deadline_ms", "sent",
                 "flags", "retry")

    def __init__(self, corr, fut, conn, deadline, type_, payload, deadline_ms, flags, sent=None):
        self.corr, self.fut, self.conn, self.deadline = corr, fut, conn, deadline
        self.type, self.payload, self.deadline_ms, self.flags = type_, payload, deadline_ms, flags
        self.sent = _now() if sent is None else sent
        self.retry = None  # for a request to a service: sends it to the next provider


def _fail(fut, exc):
    if fut is not None and not fut.done():
        try:
            fut.set_exception(exc)
        except Exception:
            pass


def _ok(fut, value):
    if fut is not None and not fut.done():
        try:
            fut.set_result(value)
        except Exception:
            pass


class Broker:
    """Our side of one broker's connection (5.7): our registration there, its epoch and
    Event sequence, and its view of the membership. One per broker of the list."""

    def __init__(self, sock, endpoint="", register_self=True):
        self.sock = sock
        self.endpoint = endpoint
        self.register_self = register_self  # False: lookup-only (no Register, no Events)
        self.registered = False
        self.error = ""
        self.epoch = 0
        self.last_seq = 0
        self.renew_ms = 1000
        self.ttl_ms = 0
        self.next_renew = 0.0       # also: when to (re)send a Register
        self.register_corr = 0
        self.ops: dict = {}         # corr -> ("register"|"renew",) or Lookup op
        self.resyncs = 0
        self.events = 0
        self.view: dict = {}        # id -> MemberInfo: this broker's view
        self.listed = False         # a complete listing arrived (the view is usable)
        self.listing = None         # the LookupOp of our own listing in progress
        self.refresh_at = float("inf")  # when to list again (young broker; lookup-only)
        self.last_heard = 0.0       # any message from the broker (0 = never)
        self.last_ack = 0.0
        self.next_ping = 0.0        # lookup-only: Pings tell whether the broker is there
        self.started = None         # monotonic time the broker started (from uptime_ms)
        self.told_warm_ms = 0       # PeerList.warm_up_ms (0 = not said)

    def window(self) -> float:
        """Seconds without a word before we take the broker for gone: three renewals
        (lookup-only: three 1 s pings), as the C++ BrokerLink."""
        return 3 * (self.renew_ms / 1000.0 if self.register_self else 1.0)

    def live(self, now) -> bool:
        return self.last_heard > 0 and now - self.last_heard <= self.window()

    def stale(self, now) -> bool:
        """Silent for longer than a registration lives: its view says nothing reliable."""
        limit = max(self.ttl_ms / 1000.0, self.window()) if self.register_self else self.window()
        return self.last_heard > 0 and now - self.last_heard > limit

    def warm_up_ms(self) -> int:
        """How long this broker, once started, takes to hear from every live peer."""
        if self.register_self and self.ttl_ms:
            return max(2 * self.renew_ms, self.ttl_ms)
        return self.told_warm_ms or 10000

    def young(self, now) -> bool:
        return self.started is not None and now - self.started < self.warm_up_ms() / 1000.0


class LookupOp:
    __slots__ = ("name", "service", "done", "acc", "deadline", "i", "after", "pages_from",
                 "young_skips", "move_on_at", "resend_at", "pin")

    def __init__(self, name, service, done, deadline, pin=None):
        self.name, self.service, self.done, self.deadline = name, service, done, deadline
        self.acc: list = []
        self.i = 0                  # the broker asked (index): pages come from one broker
        self.after = 0              # cursor of the page to ask for (PeerList.next)
        self.pages_from = 0         # the broker whose cursor `after` is
        self.young_skips = 0        # brokers skipped because they have just started
        self.move_on_at = float("inf")  # when to give up on this broker and ask the next
        self.resend_at = float("inf")   # not sent (no broker connected): try again then
        self.pin = pin              # a Broker: our own listing of that broker's view


class SyncOp:
    """A subscription sync (5.6); with `last` (a prefix) it asks for last values (5.10)."""

    __slots__ = ("fut", "deadline", "round", "marker", "got", "last", "last_marker",
                 "last_base")

    def __init__(self, fut, deadline, last=None):
        self.fut, self.deadline, self.round, self.marker, self.got = fut, deadline, 0, b"", set()
        self.last = last            # the prefix whose retained values we ask for, or None
        self.last_marker = b""      # round 2: the last-value marker we subscribed
        self.last_base = 0          # its length before the prefix


def _member(info: Info, age_ms: int = 0):
    from .peer import MemberInfo
    return MemberInfo(info.id, info.session, info.name, list(info.endpoints),
                      list(info.pub_endpoints), list(info.services), age_ms,
                      info.public_key)
