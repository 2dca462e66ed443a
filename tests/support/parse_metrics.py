"""Parses a Prometheus text exposition file with prometheus_client (the Prometheus
project's Python client, Debian's python3-prometheus-client) and prints one line per
sample: name{label="value",...} value, labels sorted. Exits 1 when the parser refuses it.
Used by tests/support/metrics_check.hpp."""
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                name = s.name + ("{" + labels + "}" if labels else "")
                print(f"{name} {s.value!r}")
    except Exception as e:  # the parser raises ValueError and others on bad input
        print(f"parse error: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
