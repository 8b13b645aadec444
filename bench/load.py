#!/usr/bin/env python3
"""The load benchmark: the store example against a hand-written actix-web + sqlx server
(bench/baseline) doing the same SQL, the same JSON and the same token check.

Both servers serve one database, seeded the same way: 100 categories, 10,000 products, 100
users (user 1 in role admin), 1,000 access tokens. Every request is authenticated. For each
back end, rounds alternate the two servers (the order flips each round); within a round each
of the six scenarios runs for --duration seconds under wrk (--connections connections). The
load generator is pinned to CPU 0 and the server (and PostgreSQL's backends) to CPU 1 when the
machine has two or more. It prints, per scenario, the median over rounds of req/s, p50 and p99
latency, the server's CPU time per request, and the ratios to the baseline.

    python3 bench/load.py                       # SQLite and PostgreSQL, 3 rounds of 10 s
    python3 bench/load.py --smoke --profile debug   # CI: SQLite, 1 round of 2 s: the harness runs

Needs wrk (Debian: apt-get install wrk) and, for PostgreSQL, psql and a server at
$BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432). Figures are never asserted.
"""

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROFILE = "release"
# Where cargo puts what it builds (CARGO_TARGET_DIR, as cargo reads it, else ./target).
BUILD = os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR") or "target")
TARGET = os.path.join(BUILD, "bench")
SERVERS = {
    "baseline": os.path.join(BUILD, "{profile}", "persisted-model-baseline"),
    "framework": os.path.join(BUILD, "{profile}", "examples", "store"),
}
S2_FILTER = {"where": {"price": {"gt": 50}, "inStock": True}, "order": "price DESC", "limit": 20}
S6_FILTER = {"include": "category", "limit": 50}


def q(value):
    return urllib.parse.quote(json.dumps(value, separators=(",", ":")))

SCENARIOS = [
    ("S1", "GET /api/Products/{random id}"),
    ("S2", "GET /api/Products?filter=" + json.dumps(S2_FILTER, separators=(",", ":"))),
    ("S3", "GET /api/accessTokens/{random token} as an admin"),
    ("S5", "GET /api/Products/count?where={\"categoryId\":…}"),
    ("S6", "GET /api/Products?filter=" + json.dumps(S6_FILTER, separators=(",", ":"))),
    ("S4", "POST /api/Products"),
]


def fingerprint(token):
    return hashlib.sha256(token.encode()).hexdigest()


def tokens():
    rng = random.Random(7)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return ["".join(rng.choice(alphabet) for _ in range(64)) for _ in range(1000)]


def seed_rows():
    """The rows both servers read: (table, columns, rows)."""
    rng = random.Random(42)
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    categories = [(i, f"Category {i}") for i in range(1, 101)]
    products = []
    for i in range(1, 10001):
        released = None if i % 3 else f"20{10 + i % 15:02d}-0{1 + i % 9}-1{i % 10}T10:00:00.000Z"
        products.append((i, f"Product {i}", round(rng.uniform(1, 100), 2), i % 4 != 0, released, 1 + i % 100))
    hash_ = "$2a$10$ot5HZf3lLFod05ySKvDryuKoEzN3nooLjOzKHIUj0FKm9BjBZ5dhG"
    users = [(i, f"user{i}@example.com", hash_) for i in range(1, 101)]
    toks = [(fingerprint(t), 1209600, now, 1 + n % 100) for n, t in enumerate(tokens())]
    return [
        ("category", ("id", "name"), categories),
        ("product", ("id", "name", "price", "in_stock", "released_at", "category_id"), products),
        ("user", ("id", "email", "password"), users),
        ("access_token", ("id", "ttl", "created", "user_id"), toks),
        ("role", ("id", "name"), [(1, "admin")]),
        ("role_mapping", ("id", "principal_type", "principal_id", "role_id"), [(1, "USER", "1", 1)]),
    ]


def sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def seed(backend, url):
    rows = seed_rows()
    if backend == "sqlite":
        path = url.split("sqlite://", 1)[1].split("?", 1)[0]
        db = sqlite3.connect(path)
        for table, cols, data in rows:
            db.execute(f'DELETE FROM "{table}"')
            marks = ", ".join("?" for _ in cols)
            db.executemany(f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({marks})', data)
        db.commit()
        db.close()
        return
    script = ["BEGIN;"]
    for table, cols, data in rows:
        script.append(f'DELETE FROM "{table}";')
        for chunk in range(0, len(data), 1000):
            values = ",".join("(" + ",".join(sql_literal(v) for v in r) + ")" for r in data[chunk:chunk + 1000])
            script.append(f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES {values};')
        if isinstance(data[0][0], int):
            # Generated ids continue after the seeded ones.
            script.append(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), {max(r[0] for r in data)});")
    script.append("COMMIT; ANALYZE;")
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url], input="\n".join(script), text=True, check=True,
                   stdout=subprocess.DEVNULL)


def trim(backend, url):
    """Removes the products S4 created, so every run reads the same table."""
    sql = "DELETE FROM product WHERE id > 10000"
    if backend == "sqlite":
        db = sqlite3.connect(url.split("sqlite://", 1)[1].split("?", 1)[0])
        db.execute(sql)
        db.commit()
        db.close()
    else:
        # Separate commands: VACUUM cannot run inside the transaction of a multi-statement -c.
        subprocess.run(["psql", "-q", url, "-c", sql, "-c", "VACUUM ANALYZE product"], check=True,
                       stdout=subprocess.DEVNULL)


def cpus():
    return len(os.sched_getaffinity(0))


def pin(core):
    return ["taskset", "-c", str(core)] if cpus() >= 2 and shutil.which("taskset") else []


def port_taken(port):
    import socket
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start(name, url, port):
    if port_taken(port):
        raise SystemExit(f"port {port} is taken: another server is running")
    env = dict(os.environ, DATABASE_URL=url, PORT=str(port), HOST="127.0.0.1", RUST_LOG=os.environ.get("BENCH_RUST_LOG", "warn"))
    log = open(os.path.join(TARGET, f"{name}.log"), "a")
    proc = subprocess.Popen(pin(1) + [SERVERS[name].format(profile=PROFILE)], env=env, stdout=log, stderr=log)
    for _ in range(100):
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited at start; see {TARGET}/{name}.log")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/Products/1", timeout=1)
        except urllib.error.HTTPError:
            return proc  # 401: up and answering
        except OSError:
            time.sleep(0.1)
            continue
        return proc
    proc.kill()
    raise SystemExit(f"{name} did not start; see {TARGET}/{name}.log")


def stop(proc):
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def lua(scenario, toks):
    admin = [t for n, t in enumerate(toks) if n % 100 == 0]  # tokens of user 1 (admin)
    lines = ["local tokens = {" + ",".join(f'"{t}"' for t in toks) + "}",
             "local admin = {" + ",".join(f'"{t}"' for t in admin) + "}",
             "math.randomseed(os.time())",
             "local function token() return tokens[math.random(#tokens)] end"]
    if scenario == "S1":
        body = 'return wrk.format("GET", "/api/Products/" .. math.random(10000), {Authorization = token()})'
    elif scenario == "S2":
        body = f'return wrk.format("GET", "/api/Products?filter={q(S2_FILTER)}", {{Authorization = token()}})'
    elif scenario == "S3":
        body = ('return wrk.format("GET", "/api/accessTokens/" .. token(), '
                '{Authorization = admin[math.random(#admin)]})')
    elif scenario == "S5":
        body = ('return wrk.format("GET", "/api/Products/count?where=%7B%22categoryId%22%3A" .. math.random(100) '
                '.. "%7D", {Authorization = token()})')
    elif scenario == "S6":
        body = f'return wrk.format("GET", "/api/Products?filter={q(S6_FILTER)}", {{Authorization = token()}})'
    else:
        body = ('return wrk.format("POST", "/api/Products", {Authorization = token(), ["Content-Type"] = '
                '"application/json"}, \'{"name":"Bench","price":12.5,"inStock":true,'
                '"releasedAt":"2020-01-15T10:00:00.000Z","categoryId\":\' .. math.random(100) .. \'}\')')
    # No `response` callback: it would make wrk run Lua for every answer. wrk counts the
    # answers that are not 2xx/3xx itself.
    lines.append("request = function() " + body + " end")
    path = os.path.join(TARGET, f"{scenario}.lua")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def to_ms(text):
    found = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not found:
        return float("nan")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(port, script, duration, connections):
    cmd = pin(0) + ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script,
                    f"http://127.0.0.1:{port}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    with open(os.path.join(TARGET, "wrk.log"), "a") as log:
        log.write(out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": to_ms((re.search(r"^\s*50%\s+(\S+)", out, re.M) or [None, "?"])[1]),
        "p99": to_ms((re.search(r"^\s*99%\s+(\S+)", out, re.M) or [None, "?"])[1]),
        "requests": total,
        "non200": int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [None, 0])[1]),
    }


def pin_postgres(core):
    """Puts PostgreSQL's processes (new backends inherit it from the postmaster) on `core`."""
    if cpus() < 2 or not shutil.which("pgrep"):
        return None
    pids = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout.split()
    for pid in pids:
        subprocess.run(["taskset", "-a", "-p", "-c", str(core), pid], capture_output=True)
    return pids


def unpin_postgres(pids):
    for pid in pids or []:
        subprocess.run(["taskset", "-a", "-p", "-c", f"0-{os.cpu_count() - 1}", pid], capture_output=True)


def check_answers(port):
    """The answers to the benchmark's requests (each must be a 200 with JSON)."""
    toks = tokens()
    admin = toks[0]
    answers = {}
    for path in ["/api/Products/7", f"/api/Products?filter={q(S2_FILTER)}", f"/api/accessTokens/{toks[5]}",
                 "/api/Products/count?where=%7B%22categoryId%22%3A3%7D", f"/api/Products?filter={q(S6_FILTER)}"]:
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": admin})
        with urllib.request.urlopen(req, timeout=5) as res:
            answers[path] = json.load(res)
    return answers


def run_backend(backend, url, args):
    print(f"\n## {backend}", flush=True)
    # The framework creates the tables; both then read the same seeded rows.
    stop(start("framework", url, 3990))
    seed(backend, url)
    toks = tokens()
    scripts = {s: lua(s, toks) for s, _ in SCENARIOS}
    results = {name: {s: [] for s, _ in SCENARIOS} for name in SERVERS}
    pg_pids = pin_postgres(1) if backend == "postgres" else None
    # Before any write: the same requests get the same JSON from both servers.
    seen = {}
    for name in SERVERS:
        proc = start(name, url, 3991)
        try:
            seen[name] = check_answers(3991)
        finally:
            stop(proc)
    for path, expected in seen["baseline"].items():
        if seen["framework"][path] != expected:
            unpin_postgres(pg_pids)
            raise SystemExit(f"the servers answer {path} differently:\n"
                             f"baseline  {json.dumps(expected)[:400]}\n"
                             f"framework {json.dumps(seen['framework'][path])[:400]}")
    try:
        for rnd in range(args.rounds):
            order = list(SERVERS) if rnd % 2 == 0 else list(reversed(SERVERS))
            for name in order:
                port = 3991
                proc = start(name, url, port)
                try:
                    if not args.smoke:
                        wrk(port, scripts["S1"], 2, args.connections)  # warm-up
                    for scenario, _ in SCENARIOS:
                        before = cpu_seconds(proc.pid)
                        r = wrk(port, scripts[scenario], args.duration, args.connections)
                        r["cpu_us"] = (cpu_seconds(proc.pid) - before) * 1e6 / max(r["requests"], 1)
                        results[name][scenario].append(r)
                        print(f"round {rnd + 1} {name:9} {scenario}: {r['rps']:8.0f} req/s  p50 {r['p50']:.2f} ms  "
                              f"p99 {r['p99']:.2f} ms  cpu {r['cpu_us']:.0f} us/req  non-200 {r['non200']}",
                              flush=True)
                finally:
                    stop(proc)
                trim(backend, url)
    finally:
        unpin_postgres(pg_pids)
    return results


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def table(backend, results):
    rows = [f"### {backend}", "",
            "| scenario | request | baseline req/s | framework req/s | ratio | p50 base / fw (ms) | p99 base / fw (ms) "
            "| CPU µs/req base / fw | CPU ratio |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for scenario, request in SCENARIOS:
        b, f = results["baseline"][scenario], results["framework"][scenario]
        rb, rf = median(b, "rps"), median(f, "rps")
        cb, cf = median(b, "cpu_us"), median(f, "cpu_us")
        rows.append(f"| {scenario} | `{request}` | {rb:,.0f} | {rf:,.0f} | {rf / rb:.2f}× | "
                    f"{median(b, 'p50'):.2f} / {median(f, 'p50'):.2f} | {median(b, 'p99'):.2f} / {median(f, 'p99'):.2f} "
                    f"| {cb:.0f} / {cf:.0f} | {cf / cb:.2f}× |")
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--smoke", action="store_true", help="SQLite, one short round: checks the harness runs")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--profile", choices=["release", "debug"], default="release",
                        help="debug builds only check the harness (CI); figures need release")
    args = parser.parse_args()
    global PROFILE
    PROFILE = args.profile
    if args.smoke:
        args.backends, args.rounds, args.duration = "sqlite", 1, 2
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (Debian: apt-get install wrk)")
    os.makedirs(TARGET, exist_ok=True)
    if not args.no_build:
        release = ["--release"] if PROFILE == "release" else []
        for what in (["-p", "persisted-model-examples", "--example", "store"], ["-p", "persisted-model-baseline"]):
            subprocess.run(["cargo", "build", *release, "-q", *what], cwd=ROOT, check=True)
    pg_base = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    print(f"machine: {os.cpu_count()} CPUs ({cpus()} usable); wrk on CPU 0, servers on CPU 1"
          if cpus() >= 2 else "machine: 1 CPU; nothing pinned")
    tables = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            path = os.path.join(TARGET, "bench.db")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
            url = f"sqlite://{path}?mode=rwc"
        else:
            subprocess.run(["psql", "-q", f"{pg_base}/postgres", "-c", "DROP DATABASE IF EXISTS bench",
                            "-c", "CREATE DATABASE bench"], check=True, stdout=subprocess.DEVNULL)
            url = f"{pg_base}/bench"
        tables.append(table(backend, run_backend(backend, url, args)))
        print("\n" + tables[-1] + "\n", flush=True)
    report = "\n\n".join(tables)
    with open(os.path.join(TARGET, "results.md"), "w") as f:
        f.write(report + "\n")
    print("\n" + report)


if __name__ == "__main__":
    main()
