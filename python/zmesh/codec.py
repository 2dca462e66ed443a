"""Frames <-> values, per docs/protocol.md sections 3, 4, 7 and 8.

The flatc-generated modules (``zmesh.wire.*``, made at build time from schemas/) are used
for reading and building. The Python FlatBuffers runtime has no verifier, so this module
carries a small one (``verify``) driven by a description of each table: every received
buffer passes it before any generated accessor touches it. Decoding never raises: it
returns ``(value, None)`` or ``(None, reason)`` with the C++ ``DecodeError`` name.
"""
from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field

import flatbuffers

from zmesh.wire import (Change, ErrorReply, Event, Header, Hello, Lookup, PeerInfo,
                        PeerList, PeerRecord, Ping, Register, RegisterAck, Reject, Sequences,
                        TopicSequence, Welcome)

PROTOCOL_VERSION = 1
IDENT = b"ZMH1"

# Kind values (envelope.fbs).
HELLO, WELCOME, REJECT, REQUEST, REPLY, ERROR, MESSAGE, PUBLISH = 1, 2, 3, 4, 5, 6, 7, 8
PING, PONG, BYE, SYNC = 9, 10, 11, 12
SEQUENCES = 13  # a publisher's heartbeat on "\0zmesh.hb." (protocol.md 5.9)
REGISTER, REGISTER_ACK, RENEW, LOOKUP, PEER_LIST, EVENT = 20, 21, 22, 23, 24, 25
KNOWN_KINDS = frozenset(list(range(1, 14)) + list(range(20, 26)))
NO_CORRELATION = frozenset({MESSAGE, PUBLISH, BYE, SYNC, SEQUENCES, EVENT})

FLAG_NO_REPLY = 1
FLAG_RETAINED = 2  # on a Publish: a retained value answering a last-value marker (5.10)

# Reserved topics (5.6): sync markers, the broadcast heartbeat (5.9), last-value markers (5.10).
SYNC_PREFIX = b"\x00zmesh.sync."
HB_TOPIC = b"\x00zmesh.hb."
LAST_PREFIX = b"\x00zmesh.last."
MAX_TOPIC_SEQUENCES = 4096  # entries a receiver takes in one Sequences (kMaxTopicSequences)

# ErrorCode values (control.fbs).
EC = dict(UnsupportedVersion=1, DuplicateId=2, SelfConnect=3, NoHandler=4, HandlerFailed=5,
          DeadlineExceeded=6, TooLarge=7, Malformed=8, ShuttingDown=9, UnknownPeer=10,
          BadRequest=11, Overloaded=12, Internal=13, DuplicateName=14,
          NotAllowed=15)


@dataclass(frozen=True)
class Limits:
    """Size limits on received frames (section 8), the C++ ``Limits`` defaults."""

    max_header_bytes: int = 1024
    max_payload_bytes: int = 16 << 20
    max_topic_bytes: int = 256
    max_identity_bytes: int = 255
    max_type_bytes: int = 128
    max_string_bytes: int = 1024
    max_list_items: int = 64
    max_name_bytes: int = 128


LIMITS = Limits()

# ---------------------------------------------------------------------------------------
# Verifier. A spec is a tuple of (field id, type); types: 1/2/4/8 (scalar bytes), "s"
# (string), "[s]" (vector of strings), "[b]" (vector of ubyte), ("t", spec) (table),
# ("[t]", spec) (vector of tables).
_U16, _U32, _I32 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<i")


class _Bad(Exception):
    pass


PEERINFO_S = ((0, 8), (1, 8), (2, "s"), (3, "[s]"), (4, "[s]"), (5, "[s]"), (6, "s"))
HEADER_S = ((0, 1), (1, 1), (2, 8), (3, "s"), (4, 8), (5, 8), (6, 8), (7, 8), (8, 8), (9, 4))
HELLO_S = ((0, 1), (1, ("t", PEERINFO_S)), (2, 4), (3, 1))
WELCOME_S = ((0, 1), (1, ("t", PEERINFO_S)), (2, 4))
REJECT_S = ((0, 2), (1, "s"))
PING_S = ((0, 8), (1, 8))
REGISTER_S = ((0, ("t", PEERINFO_S)), (1, 4))
REGISTER_ACK_S = ((0, 8), (1, 4), (2, 4), (3, 8))
LOOKUP_S = ((0, "s"), (1, "s"), (2, 8), (3, 4))
PEERRECORD_S = ((0, ("t", PEERINFO_S)), (1, 8))
PEERLIST_S = ((0, 8), (1, ("[t]", PEERRECORD_S)), (2, 8), (3, 8))
CHANGE_S = ((0, 1), (1, ("t", PEERINFO_S)), (2, "s"))
EVENT_S = ((0, 8), (1, 1), (2, ("t", PEERINFO_S)), (3, "s"), (4, 8), (5, ("[t]", CHANGE_S)))
TOPICSEQ_S = ((0, "[b]"), (1, 8))
SEQUENCES_S = ((0, ("[t]", TOPICSEQ_S)),)


def _u32(buf, pos):
    if pos < 0 or pos + 4 > len(buf):
        raise _Bad
    return _U32.unpack_from(buf, pos)[0]


def _ref(buf, pos):
    """Follow a uoffset stored at pos (4-aligned); returns the target position."""
    if pos % 4:
        raise _Bad
    return pos + _u32(buf, pos)


def _string(buf, pos):
    if pos % 4:
        raise _Bad
    n = _u32(buf, pos)
    if pos + 4 + n + 1 > len(buf) or buf[pos + 4 + n] != 0:
        raise _Bad


def _bytes(buf, pos):
    if pos % 4:
        raise _Bad
    if pos + 4 + _u32(buf, pos) > len(buf):
        raise _Bad


def _vector(buf, pos):
    if pos % 4:
        raise _Bad
    n = _u32(buf, pos)
    if pos + 4 + 4 * n > len(buf):
        raise _Bad
    return n


def _table(buf, tpos, spec, depth, budget):
    if depth > 16:
        raise _Bad
    budget[0] += 1
    if budget[0] > 200_000 or tpos % 4 or tpos + 4 > len(buf):
        raise _Bad
    vt = tpos - _I32.unpack_from(buf, tpos)[0]
    if vt < 0 or vt % 2 or vt + 4 > len(buf):
        raise _Bad
    vsize, tsize = _U16.unpack_from(buf, vt)[0], _U16.unpack_from(buf, vt + 2)[0]
    if vsize < 4 or vsize % 2 or vt + vsize > len(buf) or tsize < 4 or tpos + tsize > len(buf):
        raise _Bad
    for fid, typ in spec:
        slot = 4 + 2 * fid
        if slot + 2 > vsize:
            continue
        off = _U16.unpack_from(buf, vt + slot)[0]
        if off == 0:
            continue
        pos = tpos + off
        size = typ if isinstance(typ, int) else 4
        if off + size > tsize or pos % size:
            raise _Bad
        if isinstance(typ, int):
            continue
        target = _ref(buf, pos)
        if typ == "s":
            _string(buf, target)
        elif typ == "[b]":
            _bytes(buf, target)
        elif typ == "[s]":
            for i in range(_vector(buf, target)):
                _string(buf, _ref(buf, target + 4 + 4 * i))
        elif typ[0] == "t":
            _table(buf, target, typ[1], depth + 1, budget)
        else:
            for i in range(_vector(buf, target)):
                _table(buf, _ref(buf, target + 4 + 4 * i), typ[1], depth + 1, budget)


def verify(buf: bytes, spec, identifier: bytes | None = None) -> bool:
    """True when buf is a well-formed buffer of the table `spec` (bounds, alignment,
    string terminators, depth <= 16, <= 200 000 tables), with `identifier` if given."""
    try:
        if len(buf) < (8 if identifier else 4):
            return False
        if identifier and buf[4:8] != identifier:
            return False
        _table(buf, _u32(buf, 0), spec, 1, [0])
        return True
    except (_Bad, struct.error, IndexError):
        return False


# ---------------------------------------------------------------------------------------
# Header.
@dataclass(slots=True)
class Hdr:
    version: int = PROTOCOL_VERSION
    kind: int = 0
    correlation_id: int = 0
    type: bytes = b""
    sender_id: int = 0
    sender_session: int = 0
    timestamp_us: int = 0
    deadline_unix_ms: int = 0
    sequence: int = 0
    flags: int = 0


# The header is written directly, in one fixed layout that holds every field (FlatBuffers
# allows fields equal to their default to be present): root offset, "ZMH1", a vtable of
# 10 slots at 8, the table at 32 (8-byte scalars 8-aligned), the type string at 96. The
# FlatBuffers Builder gives the same values ~10x slower; encode_header_builder keeps it for
# the tests that compare the two.
_HDR = struct.Struct("<I4s12H iI6QIBB2x")
_HDR_VT = (24, 64, 60, 61, 8, 0, 16, 24, 32, 40, 48, 4)      # vtable without a type
_HDR_VT_T = (24, 64, 60, 61, 8, 56, 16, 24, 32, 40, 48, 4)   # with the type at +56


# The same layout packed in one call: the first 36 bytes (root offset, identifier, vtable,
# the table's vtable offset) are constant, so they are packed once here and passed as one
# "36s" field; the encoded type string is a trailing "Ns" field.
_HDR_PRE = _HDR.pack(32, IDENT, *_HDR_VT, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)[:36]
_HDR_PRE_T = _HDR.pack(32, IDENT, *_HDR_VT_T, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)[:36]
_HDR_NT = struct.Struct("<36sI6QIBB2x")
_HDR_T: dict = {}  # length of an encoded type string -> the Struct of a header with it
_TYPE_TAILS: dict = {}  # type -> (its encoded string (length, bytes, NUL, padding), Struct)


def _type_tail(type_: bytes):
    n = len(type_)
    pad = b"\x00" * (4 - (n + 1) % 4 if (n + 1) % 4 else 0)
    tail = b"".join((struct.pack("<I", n), type_, b"\x00", pad))
    st = _HDR_T.get(len(tail))
    if st is None:
        st = struct.Struct(f"<36sI6QIBB2x{len(tail)}s")
        if len(_HDR_T) < 64:  # types of up to 128 bytes need 33 lengths
            _HDR_T[len(tail)] = st
    return tail, st


def encode_header(kind, sender_id, session, corr=0, type_=b"", deadline_ms=0, sequence=0,
                  flags=0, version=PROTOCOL_VERSION, timestamp=True) -> bytes:
    ts = time.time_ns() // 1000 if timestamp else 0
    if not type_:
        return _HDR_NT.pack(_HDR_PRE, flags, corr, sender_id, session, ts, deadline_ms,
                            sequence, 0, version, kind)
    if isinstance(type_, str):
        type_ = type_.encode("utf-8")
    tt = _TYPE_TAILS.get(type_) if type(type_) is bytes else None
    if tt is None:
        tt = _type_tail(bytes(type_))
        if type(type_) is bytes and len(_TYPE_TAILS) < 256:
            _TYPE_TAILS[type_] = tt
    # the string at 96; its uoffset is stored at 32 + 56 = 88
    return tt[1].pack(_HDR_PRE_T, flags, corr, sender_id, session, ts, deadline_ms, sequence,
                      96 - 88, version, kind, tt[0])


def encode_header_builder(kind, sender_id, session, corr=0, type_=b"", deadline_ms=0,
                          sequence=0, flags=0, version=PROTOCOL_VERSION, timestamp=True) -> bytes:
    b = flatbuffers.Builder(128)
    t = b.CreateString(type_) if type_ else None
    Header.Start(b)
    Header.AddVersion(b, version)
    Header.AddKind(b, kind)
    if corr:
        Header.AddCorrelationId(b, corr)
    if t is not None:
        Header.AddType(b, t)
    Header.AddSenderId(b, sender_id)
    if session:
        Header.AddSenderSession(b, session)
    if timestamp:
        Header.AddTimestampUs(b, time.time_ns() // 1000)
    if deadline_ms:
        Header.AddDeadlineUnixMs(b, deadline_ms)
    if sequence:
        Header.AddSequence(b, sequence)
    if flags:
        Header.AddFlags(b, flags)
    b.Finish(Header.End(b), file_identifier=IDENT)
    return bytes(b.Output())


def check_sizes(layout, frames, limits=LIMITS):
    """Checks 1-4 of 7.2. Returns None or the DecodeError name."""
    want = 2 if layout == "dealer" else 3
    if len(frames) < want:
        return "missing_frames"
    if len(frames) > want:
        return "extra_frames"
    if layout == "router":
        if len(frames[0]) == 0:
            return "empty_identity"
        if len(frames[0]) > limits.max_identity_bytes:
            return "identity_too_large"
    elif layout == "sub" and len(frames[0]) > limits.max_topic_bytes:
        return "topic_too_large"
    if len(frames[-2]) > limits.max_header_bytes:
        return "header_too_large"
    if len(frames[-1]) > limits.max_payload_bytes:
        return "payload_too_large"
    return None


def decode_header(buf: bytes, limits=LIMITS):
    """Checks 5-14 of 7.2 on a header frame. Returns (Hdr, None) or (None, reason)."""
    d = _fast_header(buf) if type(buf) is bytes else None
    if d is None:
        if not verify(buf, HEADER_S, IDENT):
            return None, ("bad_identifier" if len(buf) < 8 or buf[4:8] != IDENT
                          else "header_malformed")
        d = _read_header(buf)
    t = d.type
    if d.version != PROTOCOL_VERSION and d.kind not in (HELLO, REGISTER):
        return None, "unsupported_version"
    if d.kind not in KNOWN_KINDS:
        return None, "unknown_kind"
    if len(t) > limits.max_type_bytes:
        return None, "type_too_long"
    if not t and d.kind in (REQUEST, MESSAGE, PUBLISH):
        return None, "empty_type"
    if d.sender_id == 0:
        return None, "missing_sender"
    if d.correlation_id == 0 and d.kind not in NO_CORRELATION:
        return None, "missing_correlation_id"
    if d.sender_session == 0 and d.kind in (HELLO, PUBLISH):
        return None, "missing_session"
    if d.sequence == 0 and d.kind == PUBLISH:
        return None, "missing_sequence"
    return d, None


_U8, _U64 = struct.Struct("<B"), struct.Struct("<Q")
_HDR_FIELDS = ((0, _U8), (1, _U8), (2, _U64), (3, None), (4, _U64), (5, _U64), (6, _U64),
               (7, _U64), (8, _U64), (9, _U32))


def _read_header(buf) -> Hdr:
    """Reads a verified header through its vtable (what the generated accessors do, with
    struct instead of one call chain per field)."""
    tpos = _U32.unpack_from(buf, 0)[0]
    vt = tpos - _I32.unpack_from(buf, tpos)[0]
    vsize = _U16.unpack_from(buf, vt)[0]
    vals = [0] * 10
    t = b""
    for fid, st in _HDR_FIELDS:
        slot = 4 + 2 * fid
        if slot + 2 > vsize:
            break
        off = _U16.unpack_from(buf, vt + slot)[0]
        if off == 0:
            continue
        if st is None:
            sp = tpos + off
            sp += _U32.unpack_from(buf, sp)[0]
            n = _U32.unpack_from(buf, sp)[0]
            t = bytes(buf[sp + 4: sp + 4 + n])
        else:
            vals[fid] = st.unpack_from(buf, tpos + off)[0]
    return Hdr(vals[0], vals[1], vals[2], t, vals[4], vals[5], vals[6], vals[7], vals[8], vals[9])


# Fast path of verify + _read_header for a header layout seen before. Everything verify()
# checks on a header table (root offset, vtable position, vsize/tsize, each field's bounds
# and alignment, the type's uoffset slot) is a function of (len(buf), root offset, vtable
# position, vtable bytes) alone: once a buffer with that key has passed verify(), any buffer
# with the same key passes those checks too. Only the type string (where its uoffset points,
# its length, its terminator) depends on other bytes: it is checked on every call, as
# _string does. Anything else (a new layout, a failed check) takes the full verify().
_HDR_PLANS: dict = {}


def _header_plan(buf, tpos, vt, vsize):
    scalars, spos = [], None
    for fid, st in _HDR_FIELDS:
        slot = 4 + 2 * fid
        if slot + 2 > vsize:
            break
        off = _U16.unpack_from(buf, vt + slot)[0]
        if off == 0:
            continue
        if st is None:
            spos = tpos + off
        else:
            scalars.append((fid, st.unpack_from, tpos + off))
    return tuple(scalars), spos


def _fast_header(buf: bytes):
    """Returns the Hdr of a header that passes verify(buf, HEADER_S, IDENT), or None (then
    the caller runs the full verify, which gives the reason)."""
    n = len(buf)
    if n < 8 or buf[4:8] != IDENT:
        return None
    tpos = _U32.unpack_from(buf, 0)[0]
    if tpos % 4 or tpos + 4 > n:
        return None
    vt = tpos - _I32.unpack_from(buf, tpos)[0]
    if vt < 0 or vt + 4 > n:
        return None
    key = (n, tpos, vt, buf[vt:vt + _U16.unpack_from(buf, vt)[0]])
    plan = _HDR_PLANS.get(key)
    if plan is None:
        if not verify(buf, HEADER_S, IDENT):
            return None
        plan = _header_plan(buf, tpos, vt, _U16.unpack_from(buf, vt)[0])
        if len(_HDR_PLANS) >= 64:  # bounded: odd layouts from a peer cannot grow it
            _HDR_PLANS.clear()
        _HDR_PLANS[key] = plan
    scalars, spos = plan
    t = b""
    if spos is not None:  # spos itself is 4-aligned and in bounds (part of the key)
        sp = spos + _U32.unpack_from(buf, spos)[0]
        if sp % 4 or sp + 4 > n:
            return None
        ln = _U32.unpack_from(buf, sp)[0]
        if sp + 4 + ln + 1 > n or buf[sp + 4 + ln] != 0:
            return None
        t = buf[sp + 4:sp + 4 + ln]
    vals = [0] * 10
    for fid, unpack, pos in scalars:
        vals[fid] = unpack(buf, pos)[0]
    return Hdr(vals[0], vals[1], vals[2], t, vals[4], vals[5], vals[6], vals[7], vals[8], vals[9])


def decode(layout, frames, limits=LIMITS):
    """All of 7.2: returns (Hdr, None) or (None, reason)."""
    why = check_sizes(layout, frames, limits)
    if why:
        return None, why
    return decode_header(frames[-2], limits)


# ---------------------------------------------------------------------------------------
# Control payloads.
@dataclass
class Info:
    """A PeerInfo (4.1)."""

    id: int
    session: int
    name: str
    endpoints: list = field(default_factory=list)
    pub_endpoints: list = field(default_factory=list)
    services: list = field(default_factory=list)
    public_key: str = ""  # CURVE (5.8): the peer's public key, Z85; "" in a plaintext mesh


def _strs(b, items):
    offs = [b.CreateString(s) for s in items]
    b.StartVector(4, len(offs), 4)
    for o in reversed(offs):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def _build_info(b, info: Info):
    name = b.CreateString(info.name)
    eps, pubs, svcs = _strs(b, info.endpoints), _strs(b, info.pub_endpoints), _strs(b, info.services)
    key = b.CreateString(info.public_key) if info.public_key else None
    PeerInfo.Start(b)
    PeerInfo.AddId(b, info.id)
    PeerInfo.AddSession(b, info.session)
    PeerInfo.AddName(b, name)
    PeerInfo.AddEndpoints(b, eps)
    PeerInfo.AddPubEndpoints(b, pubs)
    PeerInfo.AddServices(b, svcs)
    if key is not None:
        PeerInfo.AddPublicKey(b, key)
    return PeerInfo.End(b)


def _read_strs(obj, getter, n):
    return [getter(i).decode("utf-8", "replace") for i in range(n)]


def _read_info(p) -> Info | None:
    if p is None:
        return None
    return Info(p.Id(), p.Session(), (p.Name() or b"").decode("utf-8", "replace"),
                _read_strs(p, p.Endpoints, p.EndpointsLength()),
                _read_strs(p, p.PubEndpoints, p.PubEndpointsLength()),
                _read_strs(p, p.Services, p.ServicesLength()),
                (p.PublicKey() or b"").decode("ascii", "replace"))


def _info_ok(p, limits=LIMITS) -> bool:
    if p is None or p.Id() == 0 or p.Session() == 0:
        return False
    name = p.Name() or b""
    if not 1 <= len(name) <= limits.max_name_bytes:
        return False
    for n, get in ((p.EndpointsLength(), p.Endpoints), (p.PubEndpointsLength(), p.PubEndpoints),
                   (p.ServicesLength(), p.Services)):
        if n > limits.max_list_items:
            return False
        for i in range(n):
            if not 1 <= len(get(i)) <= limits.max_string_bytes:
                return False
    key = p.PublicKey()
    if key and not _z85_key(key):  # rule 63: absent/empty, or 40 characters of Z85
        return False
    return True


_Z85_CHARS = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       b".-:+=^!/*?&<>()[]{}@%$#")


def _z85_key(key: bytes) -> bool:
    """40 characters of Z85 that decode to 32 bytes (each 5-character group < 2**32)."""
    if len(key) != 40 or not _Z85_CHARS.issuperset(key):
        return False
    try:
        import zmq.utils.z85 as z85
        return len(z85.decode(bytes(key))) == 32
    except (ValueError, KeyError, struct.error, OverflowError):
        return False


def _finish(b, off) -> bytes:
    b.Finish(off)  # control payloads: no file identifier
    return bytes(b.Output())


def encode_hello(info: Info, interval_ms: int, version=PROTOCOL_VERSION, min_version=0) -> bytes:
    b = flatbuffers.Builder(256)
    p = _build_info(b, info)
    Hello.Start(b)
    Hello.AddProtocolVersion(b, version)
    Hello.AddPeer(b, p)
    Hello.AddHeartbeatIntervalMs(b, interval_ms)
    if min_version and min_version != 1:
        Hello.AddMinProtocolVersion(b, min_version)
    return _finish(b, Hello.End(b))


def encode_welcome(info: Info, interval_ms: int, version=PROTOCOL_VERSION) -> bytes:
    b = flatbuffers.Builder(256)
    p = _build_info(b, info)
    Welcome.Start(b)
    Welcome.AddProtocolVersion(b, version)
    Welcome.AddPeer(b, p)
    Welcome.AddHeartbeatIntervalMs(b, interval_ms)
    return _finish(b, Welcome.End(b))


def _code_text(mod, code, text):
    b = flatbuffers.Builder(64 + len(text))
    t = b.CreateString(text.encode("utf-8")[:LIMITS.max_string_bytes])
    mod.Start(b)
    mod.AddCode(b, code)
    getattr(mod, "AddReason" if mod is Reject else "AddText")(b, t)
    return _finish(b, mod.End(b))


def encode_reject(code, reason="") -> bytes:
    return _code_text(Reject, code, reason)


def encode_error(code, text="") -> bytes:
    return _code_text(ErrorReply, code, text)


def encode_ping(nonce, sent_us) -> bytes:
    b = flatbuffers.Builder(32)
    Ping.Start(b)
    Ping.AddNonce(b, nonce)
    Ping.AddSentUs(b, sent_us)
    return _finish(b, Ping.End(b))


def encode_register(info: Info, ttl_ms=0) -> bytes:
    b = flatbuffers.Builder(256)
    p = _build_info(b, info)
    Register.Start(b)
    Register.AddPeer(b, p)
    if ttl_ms:
        Register.AddTtlMs(b, ttl_ms)
    return _finish(b, Register.End(b))


def encode_lookup(name="", service="", after=0, limit=0) -> bytes:
    b = flatbuffers.Builder(128)
    n = b.CreateString(name) if name else None
    s = b.CreateString(service) if service else None
    Lookup.Start(b)
    if n is not None:
        Lookup.AddName(b, n)
    if s is not None:
        Lookup.AddService(b, s)
    if after:
        Lookup.AddAfter(b, after)
    if limit:
        Lookup.AddLimit(b, limit)
    return _finish(b, Lookup.End(b))


# Decoders: (value, None) or (None, "payload_malformed" | "bad_value" | "payload_too_large").
def _root(buf, spec, limits):
    if len(buf) > limits.max_payload_bytes:
        return "payload_too_large"
    if not verify(buf, spec):
        return "payload_malformed"
    return None


@dataclass
class Greeting:
    version: int
    min_version: int
    info: Info
    interval_ms: int


def decode_hello(buf, hdr: Hdr, limits=LIMITS):
    why = _root(buf, HELLO_S, limits)
    if why:
        return None, why
    m = Hello.Hello.GetRootAs(buf, 0)
    v, vmin, iv, p = m.ProtocolVersion(), m.MinProtocolVersion() or 1, m.HeartbeatIntervalMs(), m.Peer()
    if v == 0 or v < vmin or not 10 <= iv <= 60_000 or not _info_ok(p, limits):
        return None, "bad_value"
    if p.Id() != hdr.sender_id or p.Session() != hdr.sender_session:
        return None, "bad_value"
    return Greeting(v, vmin, _read_info(p), iv), None


def decode_welcome(buf, limits=LIMITS):
    why = _root(buf, WELCOME_S, limits)
    if why:
        return None, why
    m = Welcome.Welcome.GetRootAs(buf, 0)
    v, iv, p = m.ProtocolVersion(), m.HeartbeatIntervalMs(), m.Peer()
    if v == 0 or not 10 <= iv <= 60_000 or not _info_ok(p, limits):
        return None, "bad_value"
    return Greeting(v, v, _read_info(p), iv), None


def decode_code_text(buf, reject: bool, limits=LIMITS):
    """Reject or ErrorReply -> ((code, text), None)."""
    why = _root(buf, REJECT_S, limits)
    if why:
        return None, why
    m = (Reject.Reject if reject else ErrorReply.ErrorReply).GetRootAs(buf, 0)
    text = (m.Reason() if reject else m.Text()) or b""
    if m.Code() == 0 or len(text) > limits.max_string_bytes:
        return None, "bad_value"
    return (m.Code(), text.decode("utf-8", "replace")), None


def decode_ping(buf, limits=LIMITS):
    why = _root(buf, PING_S, limits)
    if why:
        return None, why
    m = Ping.Ping.GetRootAs(buf, 0)
    if m.Nonce() == 0:
        return None, "bad_value"
    return (m.Nonce(), m.SentUs()), None


@dataclass
class Ack:
    epoch: int
    ttl_ms: int
    renew_interval_ms: int
    event_sequence: int


def decode_register_ack(buf, limits=LIMITS):
    why = _root(buf, REGISTER_ACK_S, limits)
    if why:
        return None, why
    m = RegisterAck.RegisterAck.GetRootAs(buf, 0)
    if m.Epoch() == 0:
        return None, "bad_value"
    return Ack(m.Epoch(), m.TtlMs(), m.RenewIntervalMs(), m.EventSequence()), None


@dataclass
class Listing:
    epoch: int
    peers: list  # [(Info, age_ms)]
    uptime_ms: int
    next: int
    warm_up_ms: int = 0  # 0 = not said


def decode_peer_list(buf, limits=LIMITS):
    why = _root(buf, PEERLIST_S, limits)
    if why:
        return None, why
    m = PeerList.PeerList.GetRootAs(buf, 0)
    if m.Epoch() == 0 or m.PeersLength() > 100_000:
        return None, "bad_value"
    peers = []
    for i in range(m.PeersLength()):
        r = m.Peers(i)
        if not _info_ok(r.Peer(), limits):
            return None, "bad_value"
        peers.append((_read_info(r.Peer()), r.AgeMs()))
    return Listing(m.Epoch(), peers, m.UptimeMs(), m.Next(), m.WarmUpMs()), None


@dataclass
class Events:
    epoch: int
    sequence: int
    changes: list  # [(type, Info, reason)]


def decode_event(buf, limits=LIMITS):
    why = _root(buf, EVENT_S, limits)
    if why:
        return None, why
    m = Event.Event.GetRootAs(buf, 0)
    if m.Epoch() == 0 or m.MoreLength() > 100_000:
        return None, "bad_value"
    items = [(m.Type(), m.Peer(), m.Reason())]
    for i in range(m.MoreLength()):
        c = m.More(i)
        items.append((c.Type(), c.Peer(), c.Reason()))
    changes = []
    for t, p, r in items:
        if not 1 <= t <= 3 or not _info_ok(p, limits) or len(r or b"") > limits.max_string_bytes:
            return None, "bad_value"
        changes.append((t, _read_info(p), (r or b"").decode("utf-8", "replace")))
    return Events(m.Epoch(), m.Sequence(), changes), None


def marker_topic(peer_id: int, counter: int) -> bytes:
    """Subscription-sync marker topic of 5.6."""
    return SYNC_PREFIX + f"{peer_id:016x}.{counter}".encode()


def last_marker(peer_id: int, counter: int, prefix: bytes) -> tuple[bytes, int]:
    """Last-value marker of 5.10 for `prefix`, and the length of its part before the
    prefix (L' = marker[:base]; a retained value of topic t travels on L' + t)."""
    base = LAST_PREFIX + f"{peer_id:016x}.{counter}.".encode()
    return base + prefix, len(base)


def parse_last_marker(marker: bytes):
    """(L', prefix) of a last-value marker subscription, or None when it is not one:
    "\\0zmesh.last." <16 characters> "." <counter> "." <prefix>."""
    dot = len(LAST_PREFIX) + 16
    if not marker.startswith(LAST_PREFIX) or len(marker) <= dot or marker[dot] != 0x2E:
        return None
    end = marker.find(b".", dot + 1)
    if end < 0:
        return None
    return marker[:end + 1], marker[end + 1:]


# ---------------------------------------------------------------------------------------
# Sequences (5.9): the broadcast heartbeat's payload.
def encode_sequences(entries) -> bytes:
    """entries: [(topic bytes, sequence)], 1..4096 of them (a sender puts at most 1024)."""
    b = flatbuffers.Builder(64 + 32 * len(entries))
    offs = []
    for topic, seq in entries:
        t = b.CreateByteVector(topic)
        TopicSequence.Start(b)
        TopicSequence.AddTopic(b, t)
        TopicSequence.AddSequence(b, seq)
        offs.append(TopicSequence.End(b))
    Sequences.StartTopicsVector(b, len(offs))
    for o in reversed(offs):
        b.PrependUOffsetTRelative(o)
    v = b.EndVector()
    Sequences.Start(b)
    Sequences.AddTopics(b, v)
    return _finish(b, Sequences.End(b))


def decode_sequences(buf, limits=LIMITS):
    """Sequences -> ([(topic bytes, sequence)], None): 1..4096 entries, each topic
    1..max_topic_bytes bytes and sequence nonzero (4.2), else bad_value."""
    why = _root(buf, SEQUENCES_S, limits)
    if why:
        return None, why
    buf = bytes(buf)
    m = Sequences.Sequences.GetRootAs(buf, 0)
    n = m.TopicsLength()
    if not 1 <= n <= MAX_TOPIC_SEQUENCES:
        return None, "bad_value"
    out = []
    for i in range(n):
        e = m.Topics(i)
        tab = e._tab
        o = tab.Offset(4)
        if not o:
            return None, "bad_value"
        start, k = tab.Vector(o), tab.VectorLen(o)
        seq = e.Sequence()
        if not 1 <= k <= limits.max_topic_bytes or seq == 0:
            return None, "bad_value"
        out.append((buf[start:start + k], seq))
    return out, None
