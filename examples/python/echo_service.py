#!/usr/bin/env python3
"""A Python service that C++ clients call: answers Echo, Upper and Sleep requests.

    zmesh-broker &                                   # optional
    python3 examples/python/echo_service.py --broker tcp://127.0.0.1:7400
    zmesh request --broker tcp://127.0.0.1:7400 echo-py Upper hello     # -> HELLO
    zmesh request --service echo Echo hi --broker tcp://127.0.0.1:7400   # -> hi
    zmesh request tcp://127.0.0.1:PORT Echo hi                           # without a broker

Prints "listening on ENDPOINT as NAME (id HEX)" once ready (registered, with a broker),
like `zmesh reply`, then serves until SIGINT/SIGTERM.
"""
import argparse
import signal
import sys
import threading
import time

import zmesh


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", default="echo-py")
    ap.add_argument("--broker", default=None)
    ap.add_argument("--bind", default="tcp://127.0.0.1:*")
    ap.add_argument("--service", action="append", default=None)
    a = ap.parse_args()

    done = threading.Event()
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda *_: done.set())

    with zmesh.Peer(a.name, services=a.service or ["echo"], broker=a.broker, bind=a.bind) as p:
        p.on("Echo", lambda m: m.payload)                      # runs on a worker thread
        p.on("Upper", lambda m: m.payload.upper())
        p.on("Sleep", lambda m: time.sleep(float(m.payload or b"1")) or b"slept")
        if a.broker and not p.wait_registered(5):
            print(f"not registered: {p.registration_error or 'no answer'}", file=sys.stderr)
        print(f"listening on {p.endpoint} as {p.name} (id {p.id:016x})", flush=True)
        done.wait()


if __name__ == "__main__":
    main()
