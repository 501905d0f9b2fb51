# Helpers the scripts share: pinned test dependencies, loopback ports, servers started in
# the background and stopped when the script exits. Source it from a script's top.

step() { printf '\n==> %s\n' "$*"; }

# The npm and PyPI packages the tests and the emulated stack use, pinned in lock files.
install_test_dependencies() {
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
  if [ ! -x .venv-test/bin/python ]; then
    python3 -m venv .venv-test
  fi
  .venv-test/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for_port() { # name port pid [log]
  for _ in $(seq 1 600); do
    if ! kill -0 "$3" 2>/dev/null; then
      echo "$1 exited before listening; its log:" >&2
      cat "${4:-/dev/null}" >&2
      return 1
    fi
    if python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$2" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "$1 did not listen on 127.0.0.1:$2 within 60 s" >&2
  return 1
}

PIDS=()
stop_servers() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}

start_dynalite() { # port log
  tests/js/node_modules/.bin/dynalite --host 127.0.0.1 --port "$1" \
    --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$2" 2>&1 &
  PIDS+=($!)
  wait_for_port dynalite "$1" "${PIDS[-1]}" "$2"
}
