#!/usr/bin/env python3
"""Re-runs the draw of docs/draw.md with nothing but the standard library:
algorithm version 1 in a dozen lines, and version 2 (per-risk quotas,
assigned and excluded targets, seat replacement) on a JSON description.

Usage: python3 docs/draw_example.py            -> prints version 1's example
       python3 docs/draw_example.py SEED S N K -> prints K indices drawn from N
       python3 docs/draw_example.py --v2 < draw.json
                                               -> version 2's snapshot hash,
                                                  tasks and replacements as JSON
       python3 docs/draw_example.py --v2-example
                                               -> version 2's worked example
       python3 docs/draw_example.py --snapshot snapshot.txt SEED
                                               -> from a published draw's
                                                  snapshot file (/public/draws/…):
                                                  its hash and the targets drawn
"""
import hashlib
import json
import math
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

# ---- Version 2 -----------------------------------------------------------

RISK = ["A", "B", "C", "D"]


def kbytes(s):
    return s.encode("utf-8")


def quota_size(kind, value, n):
    if kind == "count":
        return value
    micro = round(value * 1_000_000)
    return -(-(micro * n) // 1_000_000)  # ceil


def sub_strata(strata):
    """(id, sorted candidates, k) for every (sub-)stratum in plan order."""
    out = []
    for s in strata:
        cands = sorted(s["candidates"], key=lambda c: kbytes(c["key"]))
        q = s["quota"]
        if q["kind"] == "by_risk":
            for cls in RISK:
                if cls in q["value"]:
                    sub = [c for c in cands if c.get("risk") == cls]
                    out.append((s["stratum_id"] + "/" + cls, sub, quota_size("ratio", q["value"][cls], len(sub))))
        else:
            out.append((s["stratum_id"], cands, quota_size(q["kind"], q["value"], len(cands))))
    return out


def snapshot_hash_v2(inp):
    lines = ["choucha-draw-v2"]
    for a in sorted(inp.get("assigned", []), key=lambda a: (kbytes(a["key"]), a["category"])):
        lines.append(f"assigned\t{a['key']}\t{a['category']}\t{a['jurisdiction']}\t{a['source']}")
    for sid, cands, k in sub_strata(inp["strata"]):
        lines.append(f"stratum\t{sid}\t{len(cands)}\t{k}")
        for c in cands:
            lines.append(f"{c['key']}\t{c['category']}\t{c['jurisdiction']}\t{c.get('risk') or '-'}")
    for e in sorted(inp.get("excluded", []), key=lambda e: (kbytes(e["key"]), e["category"])):
        lines.append(f"excluded\t{e['key']}\t{e['category']}\tinspected:{e['inspected']}")
    return hashlib.sha256("".join(l + "\n" for l in lines).encode("utf-8")).hexdigest()


def eligible_officers(inp, key, category, jurisdiction, load, cap, exclude=()):
    recused = {p for p, t in inp.get("recusals", []) if t == key}
    return sorted(
        (o["id"] for o in inp["officers"]
         if o["enforcement"] and o.get("unit") == jurisdiction and category in o["domains"]
         and load.get(o["id"], 0) < cap and o["id"] not in recused and o["id"] not in exclude),
        key=kbytes)


def draw_v2(seed, rules, inp):
    """Tasks as [stratum, key, category, jurisdiction, [team ids]], or the
    number of shortfalls."""
    drawn = [("assigned", a["key"], a["category"], a["jurisdiction"])
             for a in sorted(inp.get("assigned", []), key=lambda a: (kbytes(a["key"]), a["category"]))]
    short = 0
    for sid, cands, k in sub_strata(inp["strata"]):
        if k > len(cands):
            short += 1
            continue
        for i in pick(f"{seed},{sid},", len(cands), k):
            c = cands[i]
            drawn.append((sid, c["key"], c["category"], c["jurisdiction"]))
    if short:
        return short
    load, tasks = {}, []
    for sid, key, cat, town in drawn:
        eligible = eligible_officers(inp, key, cat, town, load, rules["officer_cap"])
        if len(eligible) < rules["team_size"]:
            short += 1
            continue
        team = [eligible[i] for i in pick(f"{seed},officer,{key},", len(eligible), rules["team_size"])]
        for o in team:
            load[o] = load.get(o, 0) + 1
        if rules["with_expert"]:
            recused = {p for p, t in inp.get("recusals", []) if t == key}
            experts = sorted((e["id"] for e in inp.get("experts", [])
                              if cat in e["domains"] and e["id"] not in recused), key=kbytes)
            if not experts:
                short += 1
                continue
            team.append(experts[pick(f"{seed},expert,{key},", len(experts), 1)[0]])
        tasks.append([sid, key, cat, town, team])
    return short if short else tasks


def replace_v2(seed, rules, inp, tasks, replacements, key, cat, leaving):
    """The officer who takes `leaving`'s seat (the next replacement), or None."""
    task = next(t for t in tasks if t[1] == key and t[2] == cat)
    load = {}
    for t in tasks:
        for p in t[4][:rules["team_size"]]:  # the officers; an expert comes last
            load[p] = load.get(p, 0) + 1
    load[leaving] = max(0, load.get(leaving, 0) - 1)
    eligible = eligible_officers(inp, key, cat, task[3], load, rules["officer_cap"], exclude=task[4])
    if not eligible:
        return None
    r = len(replacements) + 1
    joining = eligible[h_mod(f"{seed},replace,{key},{leaving},{r}", len(eligible))]
    task[4] = [joining if p == leaving else p for p in task[4]]
    replacements.append(joining)
    return joining


def run_v2(doc):
    inp, rules, seed = doc["inputs"], doc["rules"], doc["seed"]
    out = {"snapshot_hash": snapshot_hash_v2(inp)}
    tasks = draw_v2(seed, rules, inp)
    if isinstance(tasks, int):
        out["shortfalls"] = tasks
        return out
    replacements, answers = [], []
    for r in doc.get("replace", []):
        answers.append(replace_v2(seed, rules, inp, tasks, replacements, r["target_key"], r["category"], r["leaving"]))
    out["replacements"] = answers
    out["tasks"] = [{"stratum_id": t[0], "target_key": t[1], "team": t[4]} for t in tasks]
    return out


def from_snapshot(path, seed):
    """The snapshot file a public draw page offers is the exact text its
    hash covers: check the hash, then draw each (sub-)stratum's k of N
    candidates in file order, after the assigned targets."""
    with open(path, "rb") as f:
        raw = f.read()
    lines = raw.decode("utf-8").split("\n")
    if lines[0] != "choucha-draw-v2":
        raise SystemExit("not a version-2 snapshot")
    targets, i = [], 1
    while i < len(lines) and lines[i]:
        parts = lines[i].split("\t")
        if parts[0] == "assigned":
            targets.append({"stratum_id": "assigned", "target_key": parts[1], "category": parts[2]})
            i += 1
        elif parts[0] == "stratum":
            sid, n, k = parts[1], int(parts[2]), int(parts[3])
            cands = [l.split("\t") for l in lines[i + 1:i + 1 + n]]
            if k > n:
                raise SystemExit(f"stratum {sid}: {k} of {n} cannot be drawn")
            for idx in pick(f"{seed},{sid},", n, k):
                targets.append({"stratum_id": sid, "target_key": cands[idx][0], "category": cands[idx][1]})
            i += 1 + n
        else:  # excluded lines close the file
            i += 1
    return {"snapshot_hash": hashlib.sha256(raw).hexdigest(), "targets": targets}


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--snapshot":
        print(json.dumps(from_snapshot(sys.argv[2], sys.argv[3]), ensure_ascii=False))
        sys.exit(0)
    if sys.argv[1:] == ["--v2"]:
        doc = json.load(sys.stdin)
        out = [run_v2(d) for d in doc] if isinstance(doc, list) else run_v2(doc)
        print(json.dumps(out, ensure_ascii=False))
        sys.exit(0)
    if sys.argv[1:] == ["--v2-example"]:
        with open(__file__.replace("draw_example.py", "draw_v2_example.json"), encoding="utf-8") as f:
            print(json.dumps(run_v2(json.load(f)), ensure_ascii=False, indent=1))
        sys.exit(0)
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
