#!/usr/bin/env python3
"""Instructions per request, the framework against the hand-written baseline, on SQLite.

Where `load.py` measures time (and so the machine's noise), this counts the instructions each
server executes per request under valgrind's callgrind: the same on every run, so that a change
of a few per cent shows. Each server runs each scenario twice, with W and then W + N requests
(one keep-alive connection, the same tokens and ids in the same order for both servers); the
difference over N is the cost of one request with start-up and warm-up taken out.

    python3 bench/instructions.py                  # S1, S2, S3, S5, S6; 200 requests each
    python3 bench/instructions.py --scenarios S6 --requests 400

Needs valgrind (Debian: apt-get install valgrind). The requests use 20 tokens (S3: 10 admin
tokens), so after the warm-up the framework serves them from its token cache, as it does in
the load benchmark's steady state; the baseline looks each one up, as it always does.
Instructions are not time (system calls, cache misses and thread hand-offs cost more than
their count), so `load.py` stays the measure of speed; this one finds where the work is.
`callgrind_annotate target/bench/callgrind.<server>.<scenario>.<n>.out` shows it by function.
"""

import argparse
import http.client
import os
import random
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  (the seeding, the filters and the server binaries)

PORT = 3996
WARM_UP = 50


def paths(scenario, n, toks):
    """`n` (path, token) pairs for the scenario, the same sequence on every call."""
    rng = random.Random(7)
    admin = [t for i, t in enumerate(toks) if i % 100 == 0][:10]
    users = toks[:20]
    for _ in range(n):
        token = rng.choice(users)
        if scenario == "S1":
            yield f"/api/Products/{rng.randint(1, 10000)}", token
        elif scenario == "S2":
            yield "/api/Products?filter=" + load.q(load.S2_FILTER), token
        elif scenario == "S3":
            yield f"/api/accessTokens/{rng.choice(toks)}", rng.choice(admin)
        elif scenario == "S5":
            yield f"/api/Products/count?where=%7B%22categoryId%22%3A{rng.randint(1, 100)}%7D", token
        elif scenario == "S6":
            yield "/api/Products?filter=" + load.q(load.S6_FILTER), token
        else:
            raise SystemExit(f"unknown read scenario {scenario}")


def wait_up(proc, name):
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited at start under valgrind")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/api/Products/1", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # 401: up
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{name} did not start under valgrind")


def instructions(name, url, scenario, n, toks):
    """Total instructions of one server process that answered `n` requests of `scenario`."""
    out = os.path.join(load.TARGET, f"callgrind.{name}.{scenario}.{n}.out")
    env = dict(os.environ, DATABASE_URL=url, PORT=str(PORT), HOST="127.0.0.1", RUST_LOG="warn")
    binary = load.SERVERS[name].format(profile="release")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(proc, name)
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        for path, token in paths(scenario, n, toks):
            conn.request("GET", path, headers={"Authorization": token})
            res = conn.getresponse()
            res.read()
            if res.status != 200:
                raise SystemExit(f"{name} answered {res.status} to {path}")
        conn.close()
    finally:
        proc.send_signal(2)
        proc.wait(timeout=60)
    with open(out) as f:
        found = re.search(r"^summary: (\d+)", f.read(), re.M)
    return int(found.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default="S1,S2,S3,S5,S6")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    if not args.no_build:
        for what in (["-p", "persisted-model-examples", "--example", "store"], ["-p", "persisted-model-baseline"]):
            subprocess.run(["cargo", "build", "--release", "-q", *what], cwd=load.ROOT, check=True)
    os.makedirs(load.TARGET, exist_ok=True)
    path = os.path.join(load.TARGET, "instructions.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    url = f"sqlite://{path}?mode=rwc"
    load.stop(load.start("framework", url, 3990))  # creates the tables
    load.seed("sqlite", url)
    toks = load.tokens()
    rows = ["| scenario | baseline instructions/req | framework instructions/req | framework / baseline |",
            "|---|---:|---:|---:|"]
    for scenario in args.scenarios.split(","):
        per = {}
        for name in ("baseline", "framework"):
            few = instructions(name, url, scenario, WARM_UP, toks)
            many = instructions(name, url, scenario, WARM_UP + args.requests, toks)
            per[name] = (many - few) / args.requests
            print(f"{scenario} {name:9}: {per[name]:12,.0f} instructions/request", flush=True)
        rows.append(f"| {scenario} | {per['baseline']:,.0f} | {per['framework']:,.0f} | "
                    f"{per['framework'] / per['baseline']:.2f} |")
    print("\n" + "\n".join(rows))


if __name__ == "__main__":
    main()
