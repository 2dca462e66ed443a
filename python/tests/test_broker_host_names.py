"""A broker host name that resolves to several addresses counts as one broker per address
(protocol.md 5.7, rules 47-51; the C++ peer/src/broker_endpoints.cpp). The resolver is
replaced by one that knows 'brokers.test' (two loopback addresses): /etc/hosts is not
touched."""
from __future__ import annotations

import socket
import subprocess

import pytest

import zmesh
from zmesh import broker_endpoints

from conftest import BROKER_BIN, free_port, need_binaries, wait_for


def _fake_resolver(names):
    def resolve(host, port, family=0, type_=0, *rest):
        if host not in names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, 0, 0, 0) if ":" in a else (a, 0)) for a in names[host]]
    return resolve


@pytest.fixture
def names(monkeypatch):
    table = {}
    monkeypatch.setattr(broker_endpoints, "getaddrinfo", _fake_resolver(table))
    return table


def test_a_name_with_several_addresses_is_one_broker_per_address_in_order(names):
    names["brokers.test"] = ["127.0.0.1", "127.0.0.2", "::1", "127.0.0.1"]
    p = zmesh.Peer("names", broker="tcp://brokers.test:7400, tcp://127.0.0.2:7400",
                   brokers=["tcp://nowhere.test:7401", "tcp://[::1]:7400"], start=False)
    assert p.brokers == ["tcp://127.0.0.1:7400", "tcp://127.0.0.2:7400", "tcp://[::1]:7400",
                         "tcp://nowhere.test:7401"]  # not resolvable now: kept as it is


def test_each_broker_from_a_name_takes_the_key_of_its_listed_entry(names):
    names["brokers.test"] = ["127.0.0.1", "127.0.0.2"]
    eps, keys = broker_endpoints.broker_endpoints(
        ["tcp://brokers.test:7400", "tcp://127.0.0.2:7400", "tcp://127.0.0.3:7400"],
        ["K1", "K2", "K3"])
    assert eps == ["tcp://127.0.0.1:7400", "tcp://127.0.0.2:7400", "tcp://127.0.0.3:7400"]
    assert keys == ["K1", "K1", "K3"]  # a duplicate keeps its first place and key
    with pytest.raises(zmesh.InvalidArgument, match="missing port"):
        broker_endpoints.broker_endpoints(["tcp://brokers.test"])


def test_a_peer_registers_at_every_address_of_a_broker_name(names, procs, peers):
    need_binaries()
    port = free_port()
    names["brokers.test"] = ["127.0.0.1", "127.0.0.2"]
    for host in ("127.0.0.1", "127.0.0.2"):
        procs.start([BROKER_BIN, "--bind", f"tcp://{host}:{port}"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p = peers.make("named-brokers", broker=f"tcp://brokers.test:{port}", ttl=3.0)
    assert p.brokers == [f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.2:{port}"]
    assert wait_for(lambda: all(s["registered"] for s in p.broker_states()), 10)
    assert [s["endpoint"] for s in p.broker_states()] == p.brokers
