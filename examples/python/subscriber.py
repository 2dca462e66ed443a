#!/usr/bin/env python3
"""A Python subscriber of C++ publishers: prints broadcasts and counts missed ones.

    zmesh publish weather/paris Forecast sunny --count 0 --interval 1s --pub-bind tcp://127.0.0.1:7402 &
    python3 examples/python/subscriber.py weather/ --connect tcp://127.0.0.1:7402
    # or follow every publisher the broker knows:
    python3 examples/python/subscriber.py weather/ --broker tcp://127.0.0.1:7400
    # first the last value each publisher retains (zmesh publish ... --retain):
    python3 examples/python/subscriber.py weather/ --last --connect tcp://127.0.0.1:7402

Prints "subscribed" on stderr once the subscription is in effect at every publisher it
follows (the sync of protocol.md 5.6), then one line per broadcast on stdout:
    TOPIC PUBLISHER SEQUENCE TYPE PAYLOAD
(SEQUENCE as N(retained) for a retained last value, --last, protocol.md 5.10), and
"received N, missed M" on stderr at exit (after --count broadcasts or SIGINT/SIGTERM).
Losses after the last broadcast received are counted from the publishers' heartbeat
(5.9) within about 100 ms of catching up.
"""
import argparse
import signal
import sys
import threading

import zmesh


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("prefix")
    ap.add_argument("--connect", action="append", default=[], help="a publisher's PUB endpoint")
    ap.add_argument("--broker", default=None)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--name", default="subscriber-py")
    ap.add_argument("--last", action="store_true",
                    help="first receive the last value publishers retain of each matching topic")
    a = ap.parse_args()

    done = threading.Event()
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda *_: done.set())
    seen = [0]

    def on_broadcast(m):  # runs on a worker; one publisher's broadcasts arrive in order
        seq = f"{m.sequence}(retained)" if m.retained else m.sequence
        print(m.topic.decode(errors="replace"), f"{m.sender:016x}", seq, m.type,
              m.payload.decode(errors="replace"), flush=True)
        seen[0] += 1
        if a.count and seen[0] >= a.count:
            done.set()

    with zmesh.Peer(a.name, broker=a.broker, bind="", pub_bind="") as p:
        for ep in a.connect:
            p.subscribe_to(ep)
        if a.broker:
            p.wait_registered(5)
            p.members()  # the membership (and so the publishers to follow) is in
        p.on_gap(lambda pub, topic, n: print(f"missed {n} from {pub:016x} on {topic!r}",
                                             file=sys.stderr, flush=True))
        with p.subscribe(a.prefix, on_broadcast, timeout=5, last=a.last):
            print("subscribed", file=sys.stderr, flush=True)
            done.wait()
        missed = sum(s["missed"] for s in p.publishers().values())
        print(f"received {seen[0]}, missed {missed}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
