#!/usr/bin/env bash
# From a fresh machine to a running Blixard node with a real microVM booted:
# system packages, npm dependencies, build, the default Debian guest image, a node in the background,
# and a VM from examples/demo.toml. Safe to run again: it reuses a node and VM that already exist.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA_DIR=${BLIXARD_DATA_DIR:-$PWD/.blixard/quickstart}
SERVER=${BLIXARD_SERVER:-http://127.0.0.1:7001}
export BLIXARD_DATA_DIR=$DATA_DIR BLIXARD_SERVER=$SERVER
blixard() { node dist/cli/main.js "$@"; }

bash scripts/install-system-deps.sh
# `npm install`, not `npm ci`: the lock records no entries for other platforms' optional binaries
# (biome, rollup, buf) when the registry mirror lacks them, and `npm ci` then refuses the lock.
npm install --no-audit --no-fund --loglevel=error
npm run build --silent
bash scripts/guest-image/build.sh "$DATA_DIR/images/default"

if curl -fsS "$SERVER/healthz" >/dev/null 2>&1; then
  echo "node: already serving $SERVER"
else
  mkdir -p "$DATA_DIR"
  nohup node dist/cli/main.js node --data-dir "$DATA_DIR" >"$DATA_DIR/node.log" 2>&1 &
  echo $! >"$DATA_DIR/quickstart-node.pid"
  for _ in $(seq 1 100); do
    curl -fsS "$SERVER/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "$SERVER/healthz" >/dev/null || { echo "node failed to start; see $DATA_DIR/node.log" >&2; tail -20 "$DATA_DIR/node.log" >&2; exit 1; }
  echo "node: started (pid $(cat "$DATA_DIR/quickstart-node.pid"), log $DATA_DIR/node.log)"
fi

if blixard vm get demo >/dev/null 2>&1; then
  blixard vm start demo
else
  blixard vm create demo -f examples/demo.toml --start
fi

echo
echo "--- serial console of vm/demo ---"
blixard vm logs demo --tail 25
echo "--- http://127.0.0.1:8080/ (forwarded to the guest's port 80) ---"
curl -fsS http://127.0.0.1:8080/
echo "--- blixard vm list ---"
blixard vm list
cat <<MSG

The node keeps running in the background. Try:
  node dist/cli/main.js vm get demo -o json
  node dist/cli/main.js vm logs demo -f
  node dist/cli/main.js vm delete demo
Stop the node with: kill \$(cat $DATA_DIR/quickstart-node.pid)   (its VMs keep running unless it was started with --stop-vms-on-exit)
MSG
