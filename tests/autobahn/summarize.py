#!/usr/bin/env python3
"""Counts a kosoku (Autobahn|Testsuite) report per section and fails if any case failed.

    summarize.py REPORT_DIR [--write SUMMARY.md] [--note TEXT]

Reads REPORT_DIR/index.json, prints the per-section table (Markdown), writes it to the given file
too, and exits 1 when a case is neither OK, NON-STRICT nor INFORMATIONAL (for its behaviour or
its close behaviour), or when no case ran.
"""

import argparse
import collections
import json
import sys
from pathlib import Path

ACCEPTED = ("OK", "NON-STRICT", "INFORMATIONAL")
SECTIONS = {
    "1": "Framing",
    "2": "Pings/Pongs",
    "3": "Reserved bits",
    "4": "Opcodes",
    "5": "Fragmentation",
    "6": "UTF-8 handling",
    "7": "Close handling",
    "9": "Limits/performance",
    "10": "Misc (auto-fragmentation)",
    "12": "Compression (payloads)",
    "13": "Compression (parameters)",
}


def verdict(case):
    """The worse of a case's behaviour and close behaviour."""
    for value in (case["behavior"], case["behaviorClose"]):
        if value not in ACCEPTED:
            return value
    if "NON-STRICT" in (case["behavior"], case["behaviorClose"]):
        return "NON-STRICT"
    if case["behavior"] == "INFORMATIONAL":
        return "INFORMATIONAL"
    return "OK"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("report_dir", type=Path)
    parser.add_argument("--write", type=Path)
    parser.add_argument("--note", default="")
    args = parser.parse_args()

    index = json.loads((args.report_dir / "index.json").read_text())
    cases = {cid: case for agent in index.values() for cid, case in agent.items()}
    per_section = collections.defaultdict(collections.Counter)
    bad = []
    notable = []
    for cid, case in cases.items():
        v = verdict(case)
        per_section[cid.split(".")[0]][v] += 1
        if v not in ACCEPTED:
            bad.append((cid, case))
        elif v != "OK":
            notable.append((cid, v, case))

    key = lambda cid: [int(p) for p in cid.split(".")]
    lines = []
    if args.note:
        lines += [args.note, ""]
    lines += [
        "| Section | | Cases | OK | NON-STRICT | INFORMATIONAL | FAILED (or other) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    total = collections.Counter()
    for section in sorted(per_section, key=int):
        c = per_section[section]
        other = sum(n for v, n in c.items() if v not in ACCEPTED)
        n = sum(c.values())
        total.update(c)
        lines.append(
            f"| {section} | {SECTIONS.get(section, '')} | {n} | {c['OK']} | {c['NON-STRICT']} "
            f"| {c['INFORMATIONAL']} | {other} |"
        )
    other = sum(n for v, n in total.items() if v not in ACCEPTED)
    lines.append(
        f"| all | | {sum(total.values())} | {total['OK']} | {total['NON-STRICT']} "
        f"| {total['INFORMATIONAL']} | {other} |"
    )
    if notable:
        lines += ["", "Cases that are not plain OK:", ""]
        for cid, v, case in sorted(notable, key=lambda x: key(x[0])):
            code = case.get("remoteCloseCode")
            lines.append(f"- {cid}: {v} (the server closed with {code})")
    if bad:
        lines += ["", "FAILED cases:", ""]
        for cid, case in sorted(bad, key=lambda x: key(x[0])):
            lines.append(
                f"- {cid}: behaviour {case['behavior']}, close {case['behaviorClose']}, "
                f"close code {case.get('remoteCloseCode')} ({case.get('reportfile')})"
            )
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.write:
        args.write.write_text(text)
    if not cases:
        print("no case ran", file=sys.stderr)
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
