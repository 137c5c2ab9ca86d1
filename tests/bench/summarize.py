#!/usr/bin/env python3
"""Summarise a bench run (raw.jsonl): a table per job with the median IOPS and MB/s of
each driver over the rounds, the rust/c ratio (the median of the per-round ratios; the
ratio of the medians beside it) and the spread (min-max),
the per-round ratios (each round runs the two drivers back to back, so a round's ratio
is a paired comparison: its min-max shows how far noise reaches), the copy ceiling
beside the sequential jobs, a JSON summary, and last, alone on a line,
`min rust/c ratio: R (JOB)` over the block-device jobs (DAX-mmap jobs are reported but
kept out: the driver is not on their data path)."""
import json
import statistics
import sys

raw, out_json = sys.argv[1], sys.argv[2]
runs, ceil = [], {}
for line in open(raw):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)
    if "ceiling" in r:
        ceil[r["ceiling"]] = r
    else:
        runs.append(r)

jobs = []
for r in runs:
    if r["job"] not in jobs:
        jobs.append(r["job"])

summary = {"jobs": {}, "ceiling": ceil}
print(f"{'job':28} {'c IOPS':>10} {'rust IOPS':>10} {'c MB/s':>9} {'rust MB/s':>9} "
      f"{'rust/c':>7} {'per round':>11} {'of medians':>10}  spread c | rust (IOPS min-max)")
worst = None
for job in jobs:
    per = {}
    for drv in ("c", "rust"):
        xs = [r for r in runs if r["job"] == job and r["driver"] == drv]
        if not xs:
            continue
        per[drv] = {
            "rounds": len(xs),
            "iops_median": statistics.median(x["iops"] for x in xs),
            "mbps_median": statistics.median(x["mbps"] for x in xs),
            "iops_min": min(x["iops"] for x in xs),
            "iops_max": max(x["iops"] for x in xs),
            "ctx_median": statistics.median(x["ctx"] for x in xs),
            "ctx_per_io_median": statistics.median(x.get("ctx_per_io") or 0 for x in xs),
        }
        # The whole fio run (io-wq workers included); absent in older raw files.
        for k in ("proc_cpu", "proc_ctx_per_io"):
            vals = [x[k] for x in xs if x.get(k) is not None]
            if vals:
                per[drv][k + "_median"] = statistics.median(vals)
    if len(per) < 2:
        continue
    ratio = per["rust"]["iops_median"] / per["c"]["iops_median"]
    by_round = {}
    for r in runs:
        if r["job"] == job:
            by_round.setdefault(r["round"], {})[r["driver"]] = r["iops"]
    paired = [v["rust"] / v["c"] for v in by_round.values() if "rust" in v and v.get("c")]
    # The headline ratio is the median of the per-round (paired) ratios: the machine's
    # speed can change between rounds (TCG, shared cores), which a ratio of the two
    # drivers' medians mixes into the comparison; the ratio of medians is kept beside it.
    of_medians = ratio
    ratio = statistics.median(paired)
    summary["jobs"][job] = {**per, "ratio": ratio, "ratio_of_medians": of_medians,
                            "round_ratios": paired}
    c, r = per["c"], per["rust"]
    print(f"{job:28} {c['iops_median']:10.0f} {r['iops_median']:10.0f} {c['mbps_median']:9.1f} "
          f"{r['mbps_median']:9.1f} {ratio:7.3f} {min(paired):5.2f}-{max(paired):<5.2f} {of_medians:10.3f}  {c['iops_min']:.0f}-{c['iops_max']:.0f} | "
          f"{r['iops_min']:.0f}-{r['iops_max']:.0f}")
    if job.startswith("seq"):
        k = ceil.get("kernel", {})
        u = ceil.get("user_dax_memcpy", {})
        key = "read_mbps" if "read" in job else "write_mbps"
        if k:
            print(f"{'':28}   ceiling: kernel copy {k[key]:.1f} MB/s, user memcpy over DAX "
                  f"{u.get(key, float('nan')):.1f} MB/s; rust reaches "
                  f"{r['mbps_median'] / k[key]:.2f} of the kernel copy")
    if "iouring" in job:
        print(f"{'':28}   context switches per I/O: c {c['ctx_per_io_median']:.3f}, "
              f"rust {r['ctx_per_io_median']:.3f} (fio's ctx: the submitting thread)")
        if "proc_cpu_median" in c and "proc_cpu_median" in r:
            print(f"{'':28}   whole fio run, io-wq included: context switches per I/O "
                  f"c {c['proc_ctx_per_io_median']:.3f}, rust {r['proc_ctx_per_io_median']:.3f}; "
                  f"CPU c {c['proc_cpu_median']:.0f}%, rust {r['proc_cpu_median']:.0f}% of one CPU")
    if not job.startswith("dax_") and (worst is None or ratio < worst[0]):
        worst = (ratio, job)

json.dump(summary, open(out_json, "w"), indent=1)
for job, v in summary["jobs"].items():
    print(f"ratio {job}: {v['ratio']:.3f}")
# Data for the chart (job index, name, ratio, min and max of per-round ratios).
with open(out_json.replace(".json", ".dat"), "w") as dat:
    for i, (job, v) in enumerate(summary["jobs"].items()):
        dat.write(f"{i} {job} {v['ratio']:.4f}\n")
if worst is None:
    print("min rust/c ratio: n/a (no block jobs ran)")
    sys.exit(1)
print(f"min rust/c ratio: {worst[0]:.3f} ({worst[1]})")
