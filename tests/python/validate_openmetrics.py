#!/usr/bin/env python3
"""Strictly parse an OpenMetrics 1.0 exposition from stdin with prometheus_client.

Prints "families N" and then "family NAME TYPE SAMPLES" per metric family; exits 1 with the
parser's message on any error. The parser itself rejects a missing or misplaced "# EOF",
bad escaping, unknown types, samples that do not belong to their family, and so on.
"""
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def main() -> int:
    text = sys.stdin.read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and friends
        print(f"invalid OpenMetrics: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    names = [f.name for f in families]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        print(f"invalid OpenMetrics: duplicate families {dupes}", file=sys.stderr)
        return 1
    print(f"families {len(families)}")
    for f in families:
        print(f"family {f.name} {f.type} {len(f.samples)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
