"""What a publisher keeps about its broadcasts (engine thread only, like the C++
``SequenceAnnouncer`` and ``RetainedStore``):

- ``SequenceAnnouncer``: the sequence of each topic (protocol.md 5.5) and what the
  broadcast heartbeat announces (``Sequences`` on ``\\0zmesh.hb.``, 5.9).
- ``RetainedStore``: the last broadcast of the topics the ``retain`` rules cover, for
  subscribers that ask for last values (5.10).
"""
from __future__ import annotations

import collections
from dataclasses import dataclass

from . import errors
from .codec import LIMITS


class SequenceAnnouncer:
    """``next(topic)`` numbers each Publish and marks its topic changed. ``take()``, once
    per ``broadcast_heartbeat``, returns the latest sequence of every topic that changed,
    then announces it again 2, 4, 8, ... 512 heartbeats after its last change, and then no
    more: an announcement can be dropped at the high-water mark like the broadcasts it
    tells about, and a repeat reaches a subscriber once it has caught up, while a topic
    that stays idle costs nothing after about a minute (at 100 ms)."""

    LAST_REPEAT = 512     # heartbeats after its last change in which a topic is announced
    MAX_ENTRIES = 1024    # entries per Sequences payload (a receiver takes up to 4096)

    def __init__(self):
        self._topics: dict = {}   # topic -> [sequence, age in heartbeats, active]
        self._active: list = []   # topics still announced, in the order they became active

    def sequence(self, topic: bytes) -> int:
        """The sequence of the last Publish numbered on `topic` (0: none yet)."""
        e = self._topics.get(topic)
        return e[0] if e else 0

    def next(self, topic: bytes) -> int:
        """The sequence of the next Publish on `topic`: 1 for the first, then +1."""
        e = self._topics.get(topic)
        if e is None:
            e = self._topics[topic] = [0, 0, False]
        e[1] = 0
        if not e[2]:
            e[2] = True
            self._active.append(topic)
        e[0] += 1
        return e[0]

    def take(self) -> list:
        """What is due at this heartbeat: lists of at most MAX_ENTRIES (topic, sequence);
        empty when no topic changed within the last LAST_REPEAT heartbeats."""
        out: list = []
        kept = []
        for t in self._active:
            e = self._topics[t]
            e[1] += 1
            age = e[1]
            if age & (age - 1) == 0:  # ages 1, 2, 4, ... LAST_REPEAT
                if not out or len(out[-1]) >= self.MAX_ENTRIES:
                    out.append([])
                out[-1].append((t, e[0]))
            if age >= self.LAST_REPEAT:
                e[2] = False
            else:
                kept.append(t)
        self._active = kept
        return out

    @property
    def topics(self) -> int:
        """Topics numbered this session."""
        return len(self._topics)

    @property
    def active(self) -> int:
        """Topics still announced (changed within the last LAST_REPEAT heartbeats)."""
        return len(self._active)


@dataclass(frozen=True)
class RetainRule:
    """Retain the last broadcast of each topic starting with ``prefix`` (the C++
    ``RetainRule``): at most ``max_count`` topics and ``max_bytes`` bytes (topics, types
    and payloads) under this rule; the least recently published topic goes first."""

    prefix: bytes = b""
    max_count: int = 1000
    max_bytes: int = 1 << 20

    @staticmethod
    def of(x, limits=LIMITS) -> "RetainRule":
        """A RetainRule from a RetainRule, a prefix (str/bytes) or a tuple
        (prefix[, max_count[, max_bytes]]); InvalidArgument when it breaks a rule."""
        if isinstance(x, RetainRule):
            r = x
        elif isinstance(x, (str, bytes, bytearray)):
            r = RetainRule(x)
        elif isinstance(x, tuple) and 1 <= len(x) <= 3:
            r = RetainRule(*x)
        else:
            raise errors.InvalidArgument(f"not a retain rule: {x!r}")
        p = r.prefix.encode("utf-8") if isinstance(r.prefix, str) else bytes(r.prefix)
        if p.startswith(b"\x00"):
            raise errors.InvalidArgument("retain prefixes must not start with a zero byte")
        if len(p) > limits.max_topic_bytes:
            raise errors.InvalidArgument("a retain prefix is longer than a topic")
        if not (isinstance(r.max_count, int) and isinstance(r.max_bytes, int)
                and r.max_count > 0 and r.max_bytes > 0):
            raise errors.InvalidArgument("retain max_count and max_bytes must be positive")
        return RetainRule(p, r.max_count, r.max_bytes)


class RetainedStore:
    """The last broadcast per topic for the topics the rules cover. A topic belongs to
    the rule with the longest matching prefix (the first of equal ones)."""

    def __init__(self, rules=()):
        # per rule: [rule, OrderedDict topic -> (type, sequence, payload), bytes]
        self._rules = [[r, collections.OrderedDict(), 0] for r in rules]

    @property
    def enabled(self) -> bool:
        return bool(self._rules)

    @staticmethod
    def _cost(topic, type_, payload) -> int:
        return len(topic) + len(type_) + len(payload)

    def keep(self, topic: bytes, type_: bytes, sequence: int, payload: bytes) -> None:
        rule = None
        for r in self._rules:
            if topic.startswith(r[0].prefix) and (
                    rule is None or len(r[0].prefix) > len(rule[0].prefix)):
                rule = r
        if rule is None:
            return
        lim, values = rule[0], rule[1]
        old = values.pop(topic, None)
        if old is not None:
            rule[2] -= self._cost(topic, old[0], old[2])
        c = self._cost(topic, type_, payload)
        if c > lim.max_bytes:
            return  # never fits: the topic has no last value now
        while values and (len(values) >= lim.max_count or rule[2] + c > lim.max_bytes):
            t, (ty, _, pl) = values.popitem(last=False)  # least recently published first
            rule[2] -= self._cost(t, ty, pl)
        values[topic] = (type_, sequence, payload)
        rule[2] += c

    def matching(self, prefix: bytes):
        """(topic, type, sequence, payload) of every kept value whose topic starts with
        `prefix`."""
        for r in self._rules:
            for t, (ty, s, pl) in r[1].items():
                if t.startswith(prefix):
                    yield t, ty, s, pl

    def __len__(self) -> int:
        return sum(len(r[1]) for r in self._rules)

    @property
    def bytes(self) -> int:
        return sum(r[2] for r in self._rules)
