#!/usr/bin/env python3
"""Python client -> C++ responder: zmesh.Peer beside a raw pyzmq DEALER sending the same frames.

    build/pyvenv/bin/python python/bench/bench_client.py [--build build] [--n 20000] [--window 200]

Starts `zmesh reply Echo --echo` from the build tree, then measures against it
  - zmesh: Peer.request (sequential) for the round-trip time, and request_future with
    `window` requests in flight for requests/s;
  - raw:   a pyzmq DEALER that greets by hand (Hello) and sends [header, payload] frames
    whose headers were encoded before the clock starts, same window, same payload.
Prints both and the ratio zmesh/raw. Not a test: it asserts nothing about timings.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time

import zmq

import zmesh
from zmesh import codec


def zmesh_run(ep, n, window, payload, rtt_n):
    with zmesh.Peer("bench-py", pub_bind="", bind="") as p:
        p.request(ep, "Echo", payload)
        rtts = []
        for _ in range(rtt_n):
            t = time.perf_counter()
            p.request(ep, "Echo", payload)
            rtts.append(time.perf_counter() - t)
        t0 = time.perf_counter()
        inflight = []
        sent = 0
        while sent < n or inflight:
            while sent < n and len(inflight) < window:
                inflight.append(p.request_future(ep, "Echo", payload))
                sent += 1
            inflight.pop(0).result(10)
        return statistics.median(rtts), n / (time.perf_counter() - t0)


def raw_run(ep, n, window, payload, rtt_n):
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    me, ses = int.from_bytes(os.urandom(8), "little") | 1, int.from_bytes(os.urandom(8), "little") | 1
    s.connect(ep)
    s.send_multipart([codec.encode_header(codec.HELLO, me, ses, 1),
                      codec.encode_hello(codec.Info(me, ses, "bench-raw"), 1000)])
    assert codec.decode_header(s.recv_multipart()[0])[0].kind == codec.WELCOME
    far = int(time.time() * 1000) + 600_000
    hdrs = [codec.encode_header(codec.REQUEST, me, ses, 2 + i, b"Echo", far, timestamp=False)
            for i in range(n + rtt_n)]

    def recv_reply():
        while True:
            h, _ = s.recv_multipart()
            if codec.decode_header(h)[0].kind == codec.REPLY:  # the same check zmesh does
                return
    rtts = []
    for i in range(rtt_n):
        t = time.perf_counter()
        s.send_multipart([hdrs[i], payload])
        recv_reply()
        rtts.append(time.perf_counter() - t)
    t0 = time.perf_counter()
    sent = got = 0
    while got < n:
        while sent < n and sent - got < window:
            s.send_multipart([hdrs[rtt_n + sent], payload])
            sent += 1
        recv_reply()
        got += 1
    rate = n / (time.perf_counter() - t0)
    s.close(0)
    return statistics.median(rtts), rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "..", "build"))
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--window", type=int, default=200)
    ap.add_argument("--rtt", type=int, default=1000)
    ap.add_argument("--payload", type=int, default=64)
    a = ap.parse_args()
    rep = subprocess.Popen([os.path.join(a.build, "tools", "zmesh"), "reply", "Echo", "--echo",
                            "-q"], stdout=subprocess.PIPE, text=True)
    try:
        ep = re.match(r"listening on (\S+)", rep.stdout.readline()).group(1)
        # it prints a line per request: keep its pipe empty so that it never blocks
        threading.Thread(target=lambda: [None for _ in rep.stdout], daemon=True).start()
        payload = b"x" * a.payload
        zr, zq = zmesh_run(ep, a.n, a.window, payload, a.rtt)
        rr, rq = raw_run(ep, a.n, a.window, payload, a.rtt)
    finally:
        rep.kill()
        rep.wait()
    print(f"{'':8} {'rtt median':>12} {'requests/s':>12}   ({a.n} requests, {a.window} in flight, "
          f"{a.payload}-byte payload, C++ zmesh reply)")
    print(f"{'zmesh':8} {zr * 1e6:10.0f}us {zq:12.0f}")
    print(f"{'raw':8} {rr * 1e6:10.0f}us {rq:12.0f}")
    print(f"zmesh/raw throughput ratio: {zq / rq:.2f}")


if __name__ == "__main__":
    sys.exit(main())
