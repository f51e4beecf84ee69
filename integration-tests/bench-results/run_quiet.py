#!/usr/bin/env python3
"""Runs `peft4j bench` configs one JVM each, starting each only when the other processes leave the CPUs
quiet, and re-running a config whose foreign_cpu_frac exceeded the limit (the machine is shared; with 2 torch
threads on 2 vCPUs, a busy neighbour makes OpenMP barriers stall and timings meaningless).

usage: run_quiet.py --cp CLASSPATH --plugins DIR --out FILE [--max-foreign 0.05] [--tries 4] -- CONFIG...
  CONFIG = size:mode[:targets], e.g. tiny:lora:qv small:merge:all medium:lora:all tiny:rss:all
Extra BenchMain options for every config go after CONFIGs following '--opts', e.g. --opts --rss-steps 1000.
The first line written is BenchMain's env line (matmul peaks); every config then gets --peak-1024/--peak-2048.
"""
import argparse, json, os, subprocess, sys, time

def busy_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6]

def foreign_share(seconds=3.0):
    """Share of the machine's CPUs busy over `seconds` (nothing of ours runs meanwhile)."""
    b0 = busy_jiffies(); time.sleep(seconds); b1 = busy_jiffies()
    return (b1 - b0) / 100.0 / (seconds * os.cpu_count())

def wait_quiet(limit, max_wait):
    t0 = time.time()
    while True:
        s = foreign_share()
        if s <= limit or time.time() - t0 > max_wait:
            return s
        print(f"# busy {s:.2f}, waiting", file=sys.stderr, flush=True)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cp", required=True)
    ap.add_argument("--plugins", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-foreign", type=float, default=0.05)
    ap.add_argument("--tries", type=int, default=4)
    ap.add_argument("--max-wait", type=float, default=300)
    ap.add_argument("--java", default="java")
    ap.add_argument("--env-from", default=None, help="reuse the env line (matmul peaks) of this JSONL file")
    ap.add_argument("configs", nargs="*")
    ap.add_argument("--opts", nargs=argparse.REMAINDER, default=[])
    a = ap.parse_args()
    base = [a.java, "-Dai.djl.offline=true", "-cp", a.cp, "io.peft4j.bench.BenchMain", "--plugins", a.plugins]
    out = open(a.out, "a")
    def emit(line):
        out.write(line + "\n"); out.flush(); print(line[:160], flush=True)
    # env line (with the matmul peaks) in a quiet moment
    if a.env_from:
        env = [json.loads(l) for l in open(a.env_from) if '"kind": "env"' in l or '"kind":"env"' in l][0]
    else:
        wait_quiet(a.max_foreign, a.max_wait)
        env = subprocess.run(base + ["--size", "tiny", "--mode", "full", "--steps", "1", "--warmup", "0", "--batch",
                                     "1", "--seq", "8"] + a.opts, capture_output=True, text=True).stdout.splitlines()
        env = json.loads([l for l in env if '"kind":"env"' in l][0])
        emit(json.dumps(env))
    peaks = ["--peak-1024", str(env["matmul_1024_gflops"]), "--peak-2048", str(env["matmul_2048_gflops"])]
    for spec in a.configs:
        parts = spec.split(":")
        args = ["--size", parts[0], "--mode", parts[1]] + (["--targets", parts[2]] if len(parts) > 2 else [])
        best = None
        for t in range(a.tries):
            quiet = wait_quiet(a.max_foreign, a.max_wait)
            p = subprocess.run(base + args + ["--no-env", "--no-fork"] + peaks + a.opts, capture_output=True, text=True)
            lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
            recs = [json.loads(l) for l in lines]
            final = [r for r in recs if r.get("kind") in ("config", "error")]
            if not final:
                final = [{"kind": "error", "spec": spec, "rc": p.returncode, "stderr": p.stderr[-1500:]}]
            r = final[-1]
            r["quiet_before"] = round(quiet, 3)
            r["try"] = t + 1
            samples = [l for l, x in zip(lines, recs) if x.get("kind") == "rss_sample"]
            if r.get("kind") == "error":
                best = (r, samples); break
            if best is None or r.get("foreign_cpu_frac", 1) < best[0].get("foreign_cpu_frac", 1):
                best = (r, samples)
            if r.get("foreign_cpu_frac", 1) <= a.max_foreign:
                break
            print(f"# {spec}: foreign {r.get('foreign_cpu_frac')} > {a.max_foreign}, retrying", file=sys.stderr, flush=True)
        for s in best[1]:
            emit(s)
        emit(json.dumps(best[0]))

if __name__ == "__main__":
    main()
