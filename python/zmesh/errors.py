"""The one error vocabulary of zmesh for Python, mirroring the C++ ``zmesh::errc``.

Every failure raised by this package is a :class:`ZmeshError`; each ``errc`` has its own
subclass (``PeerGone``, ``Timeout``, ...) so callers can ``except zmesh.Timeout``.
``err.errc`` holds the :class:`Errc` value; ``str(err)`` names what failed
("peer 'pricing' gone"). Decoding untrusted bytes never raises: it returns a reason.
"""
from __future__ import annotations

import enum


class Errc(enum.IntEnum):
    """Same numbers as C++ ``zmesh::errc``."""

    ok = 0
    timeout = 1
    peer_gone = 2
    peer_unreachable = 3
    rejected = 4
    malformed = 5
    too_large = 6
    queue_full = 7
    shutting_down = 8
    no_handler = 9
    remote_error = 10
    deadline_exceeded = 11
    self_connect = 12
    duplicate_id = 13
    unsupported_version = 14
    invalid_argument = 15
    unknown_peer = 16
    not_running = 17
    overloaded = 18
    duplicate_name = 19
    auth_failed = 20
    not_allowed = 21


class ZmeshError(Exception):
    """Base of every zmesh error. ``errc`` says which kind; ``code`` is the wire
    ErrorCode when the error came from a remote Reject/Error (else None)."""

    errc: Errc = Errc.remote_error

    def __init__(self, message: str = "", code: int | None = None):
        super().__init__(message or self.errc.name.replace("_", " "))
        self.code = code


def _mk(name: str, e: Errc, *bases: type) -> type:
    return type(name, (ZmeshError, *bases), {"errc": e, "__doc__": f"errc.{e.name}"})


Timeout = _mk("Timeout", Errc.timeout, TimeoutError)
PeerGone = _mk("PeerGone", Errc.peer_gone)
PeerUnreachable = _mk("PeerUnreachable", Errc.peer_unreachable)
Rejected = _mk("Rejected", Errc.rejected)
Malformed = _mk("Malformed", Errc.malformed)
TooLarge = _mk("TooLarge", Errc.too_large)
QueueFull = _mk("QueueFull", Errc.queue_full)
ShuttingDown = _mk("ShuttingDown", Errc.shutting_down)
NoHandler = _mk("NoHandler", Errc.no_handler)
RemoteError = _mk("RemoteError", Errc.remote_error)
DeadlineExceeded = _mk("DeadlineExceeded", Errc.deadline_exceeded)
SelfConnect = _mk("SelfConnect", Errc.self_connect)
DuplicateId = _mk("DuplicateId", Errc.duplicate_id)
UnsupportedVersion = _mk("UnsupportedVersion", Errc.unsupported_version)
InvalidArgument = _mk("InvalidArgument", Errc.invalid_argument, ValueError)
UnknownPeer = _mk("UnknownPeer", Errc.unknown_peer)
NotRunning = _mk("NotRunning", Errc.not_running)
Overloaded = _mk("Overloaded", Errc.overloaded)
DuplicateName = _mk("DuplicateName", Errc.duplicate_name)
AuthFailed = _mk("AuthFailed", Errc.auth_failed)
NotAllowed = _mk("NotAllowed", Errc.not_allowed)

BY_ERRC = {
    c.errc: c
    for c in (Timeout, PeerGone, PeerUnreachable, Rejected, Malformed, TooLarge, QueueFull,
              ShuttingDown, NoHandler, RemoteError, DeadlineExceeded, SelfConnect,
              DuplicateId, UnsupportedVersion, InvalidArgument, UnknownPeer, NotRunning,
              Overloaded, DuplicateName, AuthFailed, NotAllowed)
}


def make(e: Errc, message: str, code: int | None = None) -> ZmeshError:
    return BY_ERRC[e](message, code)


# Wire ErrorCode (control.fbs) -> errc, for an Error answering a Request (section 7.1).
# Unknown codes (from newer peers) are kept and treated as remote_error.
_ERROR_TO_ERRC = {
    1: Errc.unsupported_version, 2: Errc.duplicate_id, 3: Errc.self_connect,
    4: Errc.no_handler, 5: Errc.remote_error, 6: Errc.deadline_exceeded, 7: Errc.too_large,
    8: Errc.malformed, 9: Errc.shutting_down, 10: Errc.unknown_peer, 11: Errc.remote_error,
    12: Errc.overloaded, 13: Errc.remote_error, 14: Errc.duplicate_name,
    15: Errc.not_allowed,
}


def errc_of_error_code(code: int) -> Errc:
    return _ERROR_TO_ERRC.get(code, Errc.remote_error)


def errc_of_reject_code(code: int) -> Errc:
    """A refused greeting: BadRequest (and unknown codes) are ``rejected``."""
    if code in (11, 13) or code not in _ERROR_TO_ERRC:
        return Errc.rejected
    return _ERROR_TO_ERRC[code]
