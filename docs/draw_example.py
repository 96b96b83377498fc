#!/usr/bin/env python3
"""Re-runs the worked example of docs/draw.md with nothing but the standard
library: the draw algorithm (version 1) in a dozen lines.

Usage: python3 docs/draw_example.py            -> prints the example's picks
       python3 docs/draw_example.py SEED S N K -> prints K indices drawn from N
"""
import hashlib
import sys


def h_mod(message: str, n: int) -> int:
    return int.from_bytes(hashlib.sha256(message.encode("utf-8")).digest(), "big") % n


def pick(prefix: str, n: int, k: int) -> list:
    picked, i = [], 0
    while len(picked) < k:
        i += 1
        idx = h_mod(prefix + str(i), n)
        if idx not in picked:
            picked.append(idx)
    return picked


def draw_targets(seed, stratum, keys, k):
    ordered = sorted(keys, key=lambda s: s.encode("utf-8"))
    return [ordered[i] for i in pick(f"{seed},{stratum},", len(ordered), k)]


def draw_team(seed, role, target_key, eligible, m):
    ordered = sorted(eligible, key=lambda s: s.encode("utf-8"))
    return [ordered[i] for i in pick(f"{seed},{role},{target_key},", len(ordered), m)]


SEED = "20231229093000415926535897"
TARGETS = [
    "91500000MA5U5ERF5M", "91500107MA5YN7LX2H", "91350100M000100Y43",
    "12100000400000624D", "91500107MA6000000P", "91500107MA6000001T",
    "91500107MA6000002X", "91500107MA60000031", "91500107MA60000044",
    "91500107MA60000057",
]
OFFICERS = ["渝50010023001", "渝50010023002", "渝50010023003", "渝50010023004", "渝50010023005"]

if __name__ == "__main__":
    if len(sys.argv) == 5:
        seed, stratum, n, k = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        print(" ".join(map(str, pick(f"{seed},{stratum},", n, k))))
        sys.exit(0)
    ordered = sorted(TARGETS, key=lambda s: s.encode("utf-8"))
    for i, key in enumerate(ordered):
        print(f"L[{i}] = {key}")
    for i in range(1, 6):
        msg = f"{SEED},TB,{i}"
        print(f"i={i} sha256({msg!r}) mod 10 = {h_mod(msg, 10)}")
    lines = "".join(f"{k}\ttesting_body\t西永街道\n" for k in sorted(TARGETS, key=lambda s: s.encode()))
    print("snapshot_hash", hashlib.sha256(lines.encode()).hexdigest())
    drawn = draw_targets(SEED, "TB", TARGETS, 3)
    print("targets", " ".join(drawn))
    for t in drawn:
        print("team", t, " ".join(draw_team(SEED, "officer", t, OFFICERS, 2)))
