#!/usr/bin/env bash
# Drives Swagger UI in headless Chromium against the example app: log in through the API,
# press Authorize with the token, call GET /api/Users/{id} from the UI, expect 200, and keep a
# screenshot; then an EventSource in a page receives a change-stream event. Needs Debian's chromium and node; playwright-core is installed into target/.
set -euo pipefail
cd "$(dirname "$0")/../.."
store="${1:-target/debug/examples/store}"
dir=target/browser
mkdir -p "$dir"
[ -d "$dir/node_modules/playwright-core" ] || npm install --silent --prefix "$dir" playwright-core@1 >/dev/null
env PORT=3979 HOST=127.0.0.1 DATABASE_URL=sqlite::memory: DEMO_SEED=1 "$store" >"$dir/store.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/3979) 2>/dev/null && break; sleep 0.5; done
NODE_PATH="$dir/node_modules" SCREENSHOT="$dir/explorer.png" timeout 120 node tests/browser/explorer.js http://127.0.0.1:3979
echo "screenshot: $dir/explorer.png"
NODE_PATH="$dir/node_modules" timeout 60 node tests/browser/eventsource.js http://127.0.0.1:3979
