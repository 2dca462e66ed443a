"""CURVE for the Python peer (docs/security.md, protocol.md 5.8): key pairs and zcert
certificate files (the layout ``zmesh keygen`` writes), the identity rule that binds a
peer id to its public key, the trust store our servers consult, the ZAP handler that
answers libzmq for them, and the handshake monitor that turns a refused handshake into
``AuthFailed`` at once. The names follow the C++ ``zmesh/core/curve.hpp`` and
``keys.hpp``.

The ZAP handler and the monitors are used on the engine thread only; the rest are values
and functions.
"""
from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass, field

import zmq
import zmq.utils.z85

from . import errors

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
ZAP_DOMAIN = b"zmesh"
_SECRET_SUFFIX = "_secret"


def _bad(who: str, why: str):
    raise errors.InvalidArgument(f"{who}: {why}")


def is_z85_key(key) -> bool:
    """True for 40 characters of valid Z85 (a 32-byte key)."""
    if isinstance(key, bytes):
        try:
            key = key.decode("ascii")
        except UnicodeDecodeError:
            return False
    if not isinstance(key, str) or len(key) != 40:
        return False
    try:
        return len(zmq.utils.z85.decode(key.encode("ascii"))) == 32
    except (ValueError, KeyError, UnicodeEncodeError, struct.error):
        return False


def curve_available() -> bool:
    return bool(zmq.has("curve"))


def public_key_of(secret: str) -> str:
    """The public key of a Z85 secret key; "" when it is not one."""
    if not is_z85_key(secret):
        return ""
    try:
        return zmq.curve_public(secret.encode("ascii")).decode("ascii")
    except zmq.ZMQError:
        return ""


def peer_id_for_key(public_key) -> int:
    """The peer id bound to a public key (rule 62): its first 8 raw bytes, little-endian.
    0 when it is not a Z85 key (or those bytes are zero: such a key cannot name a peer)."""
    if not is_z85_key(public_key):
        return 0
    if isinstance(public_key, str):
        public_key = public_key.encode("ascii")
    return int.from_bytes(zmq.utils.z85.decode(public_key)[:8], "little")


def short_key(key: str) -> str:
    return (key[:8] + "\u2026") if key else "(no key)"


# -- certificates (zcert / ZPL) -------------------------------------------------------------
@dataclass
class Certificate:
    public_key: str
    secret_key: str = ""
    metadata: dict = field(default_factory=dict)


def _parse_zpl(path: str, text: str) -> dict:
    out: dict = {}
    section = ""
    for number, line in enumerate(text.split("\n"), 1):
        content = line.strip(" \t\r")
        if not content or content.startswith("#"):
            continue
        if line[0] not in " \t":
            section = content
            out.setdefault(section, {})
            continue
        eq = content.find("=")
        if eq < 0 or not section:
            _bad(f"certificate '{path}'", f"line {number} is not 'name = \"value\"' in a section")
        key = content[:eq].strip(" \t\r")
        value = content[eq + 1:].strip(" \t\r")
        if value.startswith('"'):
            close = value.find('"', 1)
            if close < 0:
                _bad(f"certificate '{path}'", f"line {number}: no closing '\"'")
            value = value[1:close]
        elif "#" in value:
            value = value[:value.find("#")].strip(" \t\r")
        out[section][key] = value
    return out


def load_certificate(path: str) -> Certificate:
    """A zcert file (``zmesh keygen``'s NAME.key or NAME.key_secret), checked as the C++
    ``load_certificate`` does: Z85 keys, the secret key belongs to the public one, and a
    file holding a secret key is refused when group or others may read or write it."""
    who = f"certificate '{path}'"
    try:
        with open(path, "rb") as f:
            raw = f.read(64 * 1024 + 1)
    except OSError as e:
        _bad(who, f"cannot read: {e.strerror}")
    if len(raw) > 64 * 1024:
        _bad(who, "over 64 KiB: not a certificate")
    zpl = _parse_zpl(path, raw.decode("utf-8", "replace"))
    curve = zpl.get("curve")
    if curve is None:
        _bad(who, "no 'curve' section")
    c = Certificate(curve.get("public-key", ""), curve.get("secret-key", ""),
                    dict(zpl.get("metadata", {})))
    if not is_z85_key(c.public_key):
        _bad(who, "public-key is not 40 characters of Z85")
    if c.secret_key:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            mode = 0
        if mode & 0o077:
            _bad(who, f"holds a secret key but group or others may read or write it (mode "
                      f"{stat.S_IMODE(mode):04o}); chmod 600 '{path}'")
        if not is_z85_key(c.secret_key):
            _bad(who, "secret-key is not 40 characters of Z85")
        if public_key_of(c.secret_key) != c.public_key:
            _bad(who, "its secret-key does not belong to its public-key")
    return c


def load_trusted_certificates(directory: str, skipped: list | None = None) -> list:
    """The public certificates of a trust directory; secret certificates and files that
    are not certificates are skipped (their names and reasons appended to ``skipped``)."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as e:
        raise errors.InvalidArgument(
            f"trusted certificates '{directory}': cannot read: {e.strerror}") from None
    out = []
    for name in names:
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            continue
        if len(name) > len(_SECRET_SUFFIX) and name.endswith(_SECRET_SUFFIX):
            if skipped is not None:
                skipped.append(f"{name}: a secret certificate (trust public ones only)")
            continue
        try:
            c = load_certificate(path)
        except errors.ZmeshError as e:
            if skipped is not None:
                skipped.append(f"{name}: {e}")
            continue
        if c.secret_key:
            if skipped is not None:
                skipped.append(f"{name}: holds a secret key (trust public certificates only)")
            continue
        out.append(c)
    return out


def public_key_from(key_or_file: str, what: str) -> str:
    """A public key from a certificate file's path (tried first) or 40 characters of Z85."""
    if os.path.exists(key_or_file):
        return load_certificate(key_or_file).public_key
    if is_z85_key(key_or_file):
        return key_or_file
    _bad(what, f"'{key_or_file}' is neither a certificate file nor a Z85 key (40 characters)")


# -- options ------------------------------------------------------------------------------
@dataclass
class CurveOptions:
    """CURVE for a Peer (the C++ ``CurveOptions``). Our key pair: ``secret_key`` (Z85;
    ``public_key`` is derived when left empty) or ``secret_key_file`` (a secret
    certificate, ``zmesh keygen``'s NAME.key_secret, mode 0600). The client keys our
    ROUTER and PUB accept: ``trusted_keys`` (Z85 keys or public certificate files) and/or
    ``trust_dir`` (a directory of public certificates); ``trust_any`` accepts every key
    (encryption without authentication). No secret key = plaintext."""

    public_key: str = ""
    secret_key: str = ""
    trusted_keys: list = field(default_factory=list)
    trust_dir: str = ""
    trust_any: bool = False
    secret_key_file: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.secret_key or self.secret_key_file)

    def validate(self, who: str = "curve") -> "CurveOptions":
        """Loads the secret certificate, checks the keys, derives the public key; raises
        InvalidArgument naming the first fault."""
        if self.secret_key_file:
            c = load_certificate(self.secret_key_file)
            if not c.secret_key:
                _bad(who, f"certificate '{self.secret_key_file}' holds no secret key (give "
                          "the NAME.key_secret file)")
            if self.secret_key and self.secret_key != c.secret_key:
                _bad(who, "secret_key and secret_key_file differ")
            self.secret_key = c.secret_key
            if not self.public_key:
                self.public_key = c.public_key
        if not self.enabled:
            if self.public_key:
                _bad(who, "a public key without its secret key")
            return self
        if not curve_available():
            _bad(who, "CURVE is asked for but this libzmq was built without it")
        if not is_z85_key(self.secret_key):
            _bad(who, "the secret key is not 40 characters of Z85")
        derived = public_key_of(self.secret_key)
        if not self.public_key:
            self.public_key = derived
        elif self.public_key != derived:
            _bad(who, f"the public key {short_key(self.public_key)} does not belong to the "
                      "secret key")
        if peer_id_for_key(self.public_key) == 0:
            _bad(who, "this key cannot name a peer: generate another")
        if isinstance(self.trusted_keys, str):
            self.trusted_keys = [self.trusted_keys]
        self.trusted_keys = [public_key_from(k, f"{who}: trusted key") for k in self.trusted_keys]
        if not self.trust_any and not self.trusted_keys and not self.trust_dir:
            _bad(who, "CURVE is on but no client is trusted: give a trust directory or trusted "
                      "keys (or trust_any for encryption without authentication)")
        return self


def curve_keys_from_file(secret_certificate: str) -> CurveOptions:
    """Our keys from a secret certificate file (permissions checked)."""
    c = load_certificate(secret_certificate)
    if not c.secret_key:
        raise errors.InvalidArgument(f"certificate '{secret_certificate}' holds no secret key "
                                     "(give the NAME.key_secret file)")
    return CurveOptions(public_key=c.public_key, secret_key=c.secret_key)


class TrustStore:
    """The client keys our servers accept: the options' list plus the trust directory's
    public certificates, read again by ``reload()`` (a failed reload keeps the old set)."""

    def __init__(self, opts: CurveOptions):
        self.opts = opts
        self.keys: frozenset = frozenset()
        self.skipped: list = []
        self.reload()

    def reload(self) -> int:
        keys = set(self.opts.trusted_keys)
        skipped: list = []
        if self.opts.trust_dir:
            keys |= {c.public_key for c in
                     load_trusted_certificates(self.opts.trust_dir, skipped)}
        self.keys, self.skipped = frozenset(keys), skipped
        return len(self.keys)

    def trusts(self, key: str) -> bool:
        return bool(key) and (self.opts.trust_any or key in self.keys)


class ZapHandler:
    """Answers libzmq's ZAP requests (rfc.zeromq.org/spec:27) for the sockets of one
    context: a CURVE client is admitted when its key is trusted (status 200, User-Id = its
    Z85 key), else refused with 400. Bind it before any CURVE server socket binds."""

    def __init__(self, ctx: zmq.Context, trust: TrustStore):
        self.trust = trust
        self.sock = ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        try:
            self.sock.bind(ZAP_ENDPOINT)
        except zmq.ZMQError as e:
            self.sock.close(0)
            raise errors.InvalidArgument(f"cannot bind the ZAP handler ({ZAP_ENDPOINT}): {e}") \
                from None
        self.accepted = 0
        self.refused = 0
        self.last_refused = ""

    def handle(self) -> int:
        n = 0
        while True:
            try:
                f = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.ZMQError:
                return n
            version = f[0] if f else b""
            request_id = f[1] if len(f) > 1 else b""
            address = f[3] if len(f) > 3 else b""
            mechanism = f[5] if len(f) > 5 else b""
            key = ""
            if mechanism == b"CURVE" and len(f) > 6 and len(f[6]) == 32:
                key = zmq.utils.z85.encode(f[6]).decode("ascii")
            ok = version == b"1.0" and self.trust.trusts(key)
            if ok:
                self.accepted += 1
            else:
                self.refused += 1
                self.last_refused = (f"client key {key or '(none)'} is not trusted (address "
                                     f"{address.decode('utf-8', 'replace')})")
            try:
                self.sock.send_multipart(
                    [b"1.0", request_id, b"200" if ok else b"400",
                     b"OK" if ok else b"client key not trusted",
                     key.encode("ascii") if ok else b"", b""], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
            n += 1

    def close(self):
        self.sock.close(0)


def set_curve_server(sock, opts: CurveOptions) -> None:
    if not opts.enabled:
        return
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_SECRETKEY, opts.secret_key.encode("ascii"))
    sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN)


def set_curve_client(sock, opts: CurveOptions, server_key: str) -> None:
    """Applies to the connects made after it (a SUB takes a new server key per publisher)."""
    if not opts.enabled:
        return
    sock.setsockopt(zmq.CURVE_SERVER, 0)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, opts.public_key.encode("ascii"))
    sock.setsockopt(zmq.CURVE_SECRETKEY, opts.secret_key.encode("ascii"))
    sock.setsockopt(zmq.CURVE_SERVERKEY, server_key.encode("ascii"))


# -- handshake monitor --------------------------------------------------------------------
_HANDSHAKE_EVENTS = (zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
                     | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
_monitor_counter = [0]


def handshake_reason(event: int, value: int, curve: bool) -> str:
    """What a failed handshake event means, in the C++ ``HandshakeEvent::reason`` words."""
    if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        return f"the server does not trust our key (ZAP status {value})"
    if event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        return ("the server closed the connection during the CURVE handshake (wrong server "
                "key, or the server is not CURVE)" if curve else
                "the server closed the connection during the handshake (it may speak CURVE: "
                "we speak plaintext)")
    if value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return ("security mechanism mismatch: we speak CURVE, the other side plaintext" if curve
                else "security mechanism mismatch: we speak plaintext, the other side CURVE")
    if value == zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
        return "CURVE cryptographic failure (wrong server key?)"
    return f"handshake protocol error {value}"


class HandshakeMonitor:
    """Watches one client socket's handshakes (a ZeroMQ socket monitor on a PAIR of ours).
    ``failed()`` returns the reason of a failed handshake, or "" (the C++ rule: an
    authentication or protocol failure at once; a closed connection at once with CURVE,
    the second in a row without, since a plaintext client cannot tell a CURVE server's
    hang-up from a network blip)."""

    def __init__(self, ctx: zmq.Context, watched, curve: bool):
        _monitor_counter[0] += 1
        addr = f"inproc://zmesh-py-monitor-{os.getpid()}-{id(self)}-{_monitor_counter[0]}"
        self.watched, self.curve, self.closes = watched, curve, 0
        self.ok = False  # the last handshake decided succeeded
        watched.monitor(addr, _HANDSHAKE_EVENTS)
        self.pair = ctx.socket(zmq.PAIR)
        self.pair.setsockopt(zmq.LINGER, 0)
        self.pair.connect(addr)

    def failed(self) -> str:
        while True:
            try:
                f = self.pair.recv_multipart(zmq.NOBLOCK)
            except zmq.ZMQError:
                return ""
            if len(f[0]) < 6:
                continue
            event, value = struct.unpack_from("=HI", f[0])
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.closes, self.ok = 0, True
            elif event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
                self.closes += 1
                if self.closes >= (1 if self.curve else 2):
                    self.ok = False
                    return handshake_reason(event, value, self.curve)
            elif event in (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_AUTH):
                self.ok = False
                return handshake_reason(event, value, self.curve)

    def close(self):
        try:
            self.watched.monitor(None, 0)
        except zmq.ZMQError:
            pass
        self.pair.close(0)
