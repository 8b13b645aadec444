#!/usr/bin/env python3
"""Soak benchmark: mixed reads, writes, logins and includes against the example server for a
while, reporting requests, errors by status and the server's memory (RSS) after a warm-up and
at the end. Standard library only. Not a test: it reports figures, and exits 1 only when a
request got a 5xx or the server died.

    cargo build --release --example store
    python3 tests/soak/soak.py --server target/release/examples/store --minutes 10
    python3 tests/soak/soak.py --server target/release/examples/store --minutes 10 \
        --database-url postgres://postgres@127.0.0.1:5432/soak   # dropped and re-created first
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

HOST = "127.0.0.1"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_port(port, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def fresh_database(url):
    """Drops and re-creates a PostgreSQL or MySQL database named by the URL's path."""
    parsed = urllib.parse.urlparse(url)
    name = parsed.path.lstrip("/")
    if parsed.scheme.startswith("postgres"):
        base = ["psql", "-h", parsed.hostname or HOST, "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres", "-d", "postgres", "-qc"]
        subprocess.run(base + [f'DROP DATABASE IF EXISTS "{name}"'], check=True)
        subprocess.run(base + [f'CREATE DATABASE "{name}"'], check=True)
    elif parsed.scheme.startswith("mysql"):
        base = ["mysql", "-h", parsed.hostname or HOST, "-P", str(parsed.port or 3306), "-u", parsed.username or "root", "-e"]
        subprocess.run(base + [f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`"], check=True)


class Client:
    def __init__(self, port):
        self.port = port
        self.conn = None

    def call(self, method, path, body=None, token=None):
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = token
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                self.conn.request(method, path, body=data, headers=headers)
                res = self.conn.getresponse()
                raw = res.read()
                return res.status, raw
            except (http.client.HTTPException, OSError):
                self.conn = None
                if attempt:
                    return 0, b""
        return 0, b""


def q(value):
    return urllib.parse.quote(json.dumps(value, separators=(",", ":")))


def seed(client, categories, products):
    ids = []
    for c in range(categories):
        status, raw = client.call("POST", "/api/Categories", {"name": f"category {c}"})
        cat = json.loads(raw)["id"]
        batch = [{"name": f"product {c}-{i}", "price": random.uniform(1, 100), "inStock": i % 3 != 0,
                  "releasedAt": f"20{10 + i % 15}-0{1 + i % 9}-15T10:00:00.000Z", "categoryId": cat}
                 for i in range(products)]
        for start in range(0, len(batch), 100):
            status, raw = client.call("POST", "/api/Products", batch[start:start + 100])
            ids.extend(p["id"] for p in json.loads(raw))
    return ids


def worker(port, stop, stats, lock, product_ids, seed_value):
    rnd = random.Random(seed_value)
    client = Client(port)
    token = None
    local = {}
    n = 0
    while not stop.is_set():
        r = rnd.random()
        if token is None or r < 0.03:
            status, raw = client.call("POST", "/api/Users/login", {"email": "alice@example.com", "password": "alicepass"})
            if status == 200:
                if token and rnd.random() < 0.5:
                    client.call("POST", "/api/Users/logout", token=token)
                token = json.loads(raw)["id"]
        elif r < 0.40:
            f = {"where": {"price": {"gt": rnd.randint(1, 90)}, "inStock": True}, "order": "price DESC", "limit": 20}
            status, _ = client.call("GET", "/api/Products?filter=" + q(f), token=token)
        elif r < 0.55:
            status, _ = client.call("GET", f"/api/Products/{rnd.choice(product_ids)}", token=token)
        elif r < 0.65:
            f = {"include": {"relation": "products", "scope": {"limit": 10}}, "limit": 5}
            status, _ = client.call("GET", "/api/Categories?filter=" + q(f), token=token)
        elif r < 0.72:
            f = {"include": "category", "limit": 50, "skip": rnd.randint(0, 500)}
            status, _ = client.call("GET", "/api/Products?filter=" + q(f), token=token)
        elif r < 0.85:
            body = {"name": f"soak {seed_value}-{n}", "price": rnd.uniform(1, 100), "categoryId": 1}
            status, raw = client.call("POST", "/api/Products", body, token=token)
        elif r < 0.93:
            pid = rnd.choice(product_ids)
            status, _ = client.call("PATCH", f"/api/Products/{pid}", {"price": rnd.uniform(1, 100)}, token=token)
        elif r < 0.97:
            status, _ = client.call("GET", "/api/Users/2", token=token)
        else:
            w = {"name": {"like": f"soak {seed_value}-%"}}
            status, _ = client.call("GET", "/api/Products/count?where=" + q(w), token=token)
        n += 1
        local[status] = local.get(status, 0) + 1
        if n % 200 == 0:
            with lock:
                for k, v in local.items():
                    stats[k] = stats.get(k, 0) + v
            local = {}
    with lock:
        for k, v in local.items():
            stats[k] = stats.get(k, 0) + v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True, help="the example server binary")
    ap.add_argument("--database-url", default="sqlite::memory:")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=30.0, help="seconds before the first memory reading")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--port", type=int, default=3988)
    args = ap.parse_args()

    if not args.database_url.startswith("sqlite"):
        fresh_database(args.database_url)
    env = dict(os.environ, PORT=str(args.port), HOST=HOST, DATABASE_URL=args.database_url, DEMO_SEED="1",
               RUST_LOG="warn")
    server = subprocess.Popen([args.server], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not wait_port(args.port):
            print("the server did not start", file=sys.stderr)
            return 1
        client = Client(args.port)
        product_ids = seed(client, 20, 500)
        print(f"seeded 20 categories, {len(product_ids)} products; server RSS {rss_kib(server.pid) / 1024:.1f} MiB")

        stop = threading.Event()
        stats, lock = {}, threading.Lock()
        threads = [threading.Thread(target=worker, args=(args.port, stop, stats, lock, product_ids, i), daemon=True)
                   for i in range(args.workers)]
        started = time.time()
        for t in threads:
            t.start()
        time.sleep(args.warmup)
        rss_start = rss_kib(server.pid)
        peak = rss_start
        samples = []
        end = started + args.minutes * 60
        next_sample = time.time() + 60
        while time.time() < end:
            time.sleep(min(10, max(0, end - time.time())))
            if server.poll() is not None:
                print("the server died", file=sys.stderr)
                return 1
            rss = rss_kib(server.pid)
            peak = max(peak, rss)
            if time.time() >= next_sample:
                samples.append(rss)
                next_sample += 60

        stop.set()
        for t in threads:
            t.join(timeout=60)
        elapsed = time.time() - started
        rss_end = rss_kib(server.pid)
        total = sum(stats.values())
        growth = (rss_end - rss_start) / rss_start * 100 if rss_start else 0.0
        by_status = ", ".join(f"{k}: {v}" for k, v in sorted(stats.items()))
        backend = args.database_url.split(":", 1)[0]
        print(f"backend {backend}, {args.workers} workers, {elapsed / 60:.1f} min")
        print(f"requests {total} ({total / elapsed:.0f}/s); by status: {by_status}")
        print(f"server RSS after {args.warmup:.0f} s warm-up {rss_start / 1024:.1f} MiB, at the end "
              f"{rss_end / 1024:.1f} MiB ({growth:+.1f}%), peak {peak / 1024:.1f} MiB")
        if samples:
            print("RSS each minute (MiB): " + " ".join(f"{kib / 1024:.1f}" for kib in samples))
        server_errors = sum(v for k, v in stats.items() if k >= 500 or k == 0)
        if server_errors:
            print(f"{server_errors} requests got a 5xx or no answer", file=sys.stderr)
            return 1
        return 0
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
