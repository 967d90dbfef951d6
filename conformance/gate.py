#!/usr/bin/env python3
"""The ratcheting conformance gate of gnocchi-rs.

Reads the JSON report of run-gabbits.py and the committed list of tests that must pass
(`expected-pass.txt`, one `file :: test name` per line). Fails when a listed test did not pass.
Prints the tests that pass but are not listed yet; `--update` adds them to the list (tests are
never removed from it).
"""

import argparse
import json
import sys


def load_expected(path):
    try:
        with open(path, encoding="utf-8") as f:
            return {line.rstrip("\n") for line in f if line.strip() and not line.startswith("#")}
    except FileNotFoundError:
        return set()


def passing(report):
    out = set()
    for key, res in report["files"].items():
        for name in res.get("passes", []):
            out.add("%s :: %s" % (key, name))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("report")
    p.add_argument("expected")
    p.add_argument("--update", action="store_true", help="add newly passing tests to the list")
    args = p.parse_args()
    with open(args.report, encoding="utf-8") as f:
        report = json.load(f)
    expected = load_expected(args.expected)
    passed = passing(report)
    missing = sorted(expected - passed)
    new = sorted(passed - expected)
    for name in new:
        print("newly passing (add to %s): %s" % (args.expected, name))
    if args.update and new:
        with open(args.expected, "w", encoding="utf-8") as f:
            for line in sorted(expected | passed):
                f.write(line + "\n")
        print("added %d tests to %s" % (len(new), args.expected))
    for name in missing:
        print("REGRESSION: %s" % name)
    t = report["totals"]
    print("gate: %d expected, %d regressions, %d newly passing; suite: %d passed, %d failed"
          % (len(expected), len(missing), len(new), t["passed"], t["failed"]))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
