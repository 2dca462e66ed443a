"""The brokers of a Peer's options (protocol.md 5.7, several brokers), as the C++
``broker_endpoints`` (peer/src/broker_endpoints.cpp) makes them.

``broker`` and each item of ``brokers`` are an endpoint or a comma-separated list. Each
listed ``tcp://HOST:PORT`` whose host is a name (not an address, no ``SOURCE;`` part) is
resolved once, here: a name with several addresses counts as one broker per address,
in the resolver's order (IPv6 in brackets); a name that does not resolve now is kept as
it is (ZeroMQ resolves it again at each reconnect). Duplicates count once, the first
place kept. The broker keys (CURVE) are one for all, or one per *listed* broker, and
each broker made from a listed one takes its key.
"""
from __future__ import annotations

import socket

from . import errors

# The resolver: socket.getaddrinfo (tests replace it to make a name with two addresses).
getaddrinfo = socket.getaddrinfo


def split_list(text) -> list:
    """The items of a comma-separated list, trimmed, empty ones left out."""
    return [item.strip(" \t") for item in str(text or "").split(",") if item.strip(" \t")]


def _is_address(host: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return True
        except (OSError, ValueError):
            pass
    return False


def _host_port(text: str, address: str):
    """(host, port) of a tcp address without a source part; InvalidArgument if malformed
    (the C++ parse_endpoint's checks)."""
    def bad(why):
        raise errors.InvalidArgument(f"invalid peer options: broker '{text}': {why}")
    if address.startswith("["):
        close = address.find("]")
        if close < 0:
            bad("unclosed '[' in host (tcp://[::1]:port)")
        host, rest = address[1:close], address[close + 1:]
        if not rest.startswith(":"):
            bad("missing port (tcp://host:port)")
        port = rest[1:]
    else:
        colon = address.rfind(":")
        if colon < 0:
            bad("missing port (tcp://host:port)")
        host, port = address[:colon], address[colon + 1:]
        if ":" in host:
            bad("an IPv6 address goes in brackets (tcp://[::1]:port)")
    if not host:
        bad("missing host (tcp://host:port)")
    if host == "*":
        bad("host '*' is only valid for bind, not connect")
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        bad(f"bad port '{port}' (1..65535)")
    return host, port


def _addresses(host: str) -> list:
    """The addresses `host` resolves to, as endpoint hosts; [] if it cannot say now."""
    try:
        found = getaddrinfo(host, None, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    out = []
    for family, _, _, _, sockaddr in found:
        if family == socket.AF_INET:
            out.append(sockaddr[0])
        elif family == socket.AF_INET6:
            out.append("[" + sockaddr[0].split("%")[0] + "]")  # inet_ntop has no scope
    return out


def listed(broker, brokers) -> list:
    """The brokers as listed: `broker`'s items, then those of each item of `brokers`."""
    out = split_list(broker)
    for item in ([brokers] if isinstance(brokers, str) else brokers):
        out += split_list(item)
    return out


def broker_endpoints(listed_brokers, keys=()) -> tuple:
    """(endpoints, their keys) of the listed brokers; `keys`: () or one per listed broker."""
    out, out_keys = [], []
    for i, text in enumerate(listed_brokers):
        key = keys[i] if keys else ""
        found = [text]
        transport, sep, address = text.partition("://")
        if not sep or not transport:
            raise errors.InvalidArgument(f"invalid peer options: broker '{text}': not an "
                                         "endpoint (tcp://host:port, ipc://path, inproc://name)")
        if transport == "tcp" and ";" not in address:
            host, port = _host_port(text, address)
            if not _is_address(host):
                found = [f"tcp://{a}:{port}" for a in _addresses(host)] or [text]
        for ep in found:
            if ep not in out:
                out.append(ep)
                out_keys.append(key)
    return out, out_keys
