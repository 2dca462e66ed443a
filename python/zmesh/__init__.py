"""zmesh for Python: a peer of a zmesh mesh (docs/protocol.md v1) on pyzmq + FlatBuffers.

    import zmesh
    with zmesh.Peer(name="echo-py", services=["echo"], broker="tcp://127.0.0.1:7400") as p:
        p.on("Echo", lambda msg: msg.payload)
        ...

See python/README.md.
"""
try:
    from zmesh.wire import Header as _generated  # noqa: F401  (made by flatc at build time)
except ImportError as e:  # pragma: no cover
    raise ImportError("zmesh.wire is missing: it is generated from schemas/ by flatc when the "
                      "package is built; install it with pip (see python/README.md)") from e

from .errors import (Errc, ZmeshError, Timeout, PeerGone, PeerUnreachable, Rejected, Malformed,
                     TooLarge, QueueFull, ShuttingDown, NoHandler, RemoteError, DeadlineExceeded,
                     SelfConnect, DuplicateId, UnsupportedVersion, InvalidArgument, UnknownPeer,
                     NotRunning, Overloaded, DuplicateName, AuthFailed, NotAllowed)
from .peer import Peer, Message, Response, MemberInfo, Registration
from .broadcast_state import RetainRule
from .codec import Limits, PROTOCOL_VERSION
from .security import (CurveOptions, Certificate, curve_keys_from_file, load_certificate,
                       load_trusted_certificates, peer_id_for_key, public_key_of)

__version__ = "0.1.0"
__all__ = ["Peer", "Message", "Response", "MemberInfo", "Registration", "RetainRule", "Limits",
           "PROTOCOL_VERSION", "Errc", "ZmeshError", "Timeout", "PeerGone", "PeerUnreachable",
           "Rejected", "Malformed", "TooLarge", "QueueFull", "ShuttingDown", "NoHandler",
           "RemoteError", "DeadlineExceeded", "SelfConnect", "DuplicateId",
           "UnsupportedVersion", "InvalidArgument", "UnknownPeer", "NotRunning", "Overloaded",
           "DuplicateName", "AuthFailed", "NotAllowed", "CurveOptions", "Certificate",
           "curve_keys_from_file", "load_certificate", "load_trusted_certificates",
           "peer_id_for_key", "public_key_of"]
