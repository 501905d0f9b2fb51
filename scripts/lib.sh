# Helpers the scripts share: pinned test dependencies, loopback ports, servers started in
# the background and stopped when the script exits. Source it from a script's top.

step() { printf '\n==> %s\n' "$*"; }

# The npm and PyPI packages the tests and the emulated stack use, pinned in lock files.
# Each install is skipped while its lock file is the one last installed.
install_test_dependencies() {
  if ! cmp -s tests/js/package-lock.json tests/js/node_modules/.installed-lock.json; then
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
    cp tests/js/package-lock.json tests/js/node_modules/.installed-lock.json
  fi
  if ! cmp -s tests/idp/package-lock.json tests/idp/node_modules/.installed-lock.json; then
    (cd tests/idp && npm ci --no-audit --no-fund --loglevel=error)
    cp tests/idp/package-lock.json tests/idp/node_modules/.installed-lock.json
  fi
  if ! cmp -s tests/conformance/package-lock.json tests/conformance/node_modules/.installed-lock.json; then
    (cd tests/conformance && npm ci --no-audit --no-fund --loglevel=error)
    cp tests/conformance/package-lock.json tests/conformance/node_modules/.installed-lock.json
  fi
  install_venv .venv-test tests/python/requirements.txt
}

# Debian's Chromium for the browser walk (tests/python/test_browser.py, through
# Playwright's Python package, which never downloads a browser of its own), when missing.
# apt-get update only if the install fails without it; sudo only when not root.
install_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  local install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)
  if ! "${install[@]}"; then
    "${sudo[@]}" apt-get update -q
    "${install[@]}"
  fi
  [ -x /usr/bin/chromium ] || { echo "apt-get did not install /usr/bin/chromium" >&2; return 1; }
}

install_venv() { # directory requirements
  if [ ! -x "$1/bin/python" ]; then
    python3 -m venv "$1"
  fi
  if ! cmp -s "$2" "$1/.installed-requirements.txt"; then
    "$1/bin/pip" install --quiet --disable-pip-version-check -r "$2"
    cp "$2" "$1/.installed-requirements.txt"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

free_ports() { # N: N distinct free loopback ports, one a line (all held while chosen)
  python3 -c '
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in held))
for s in held:
    s.close()' "$1"
}

wait_for_port() { # name port pid [log] [seconds, default 60]
  for _ in $(seq 1 $((${5:-60} * 10))); do
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
  echo "$1 did not listen on 127.0.0.1:$2 within ${5:-60} s" >&2
  return 1
}

wait_for_file() { # name file pid [log] [seconds, default 60]: until the file is there, not empty
  for _ in $(seq 1 $((${5:-60} * 10))); do
    [ -s "$2" ] && return 0
    if ! kill -0 "$3" 2>/dev/null; then
      echo "$1 exited before it was ready; its log:" >&2
      cat "${4:-/dev/null}" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$1 did not write $2 within ${5:-60} s" >&2
  return 1
}

# Background servers to stop at exit: a pid, or -pid for a whole process group.
PIDS=()
stop_servers() {
  for pid in "${PIDS[@]}"; do
    kill -- "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "${pid#-}" 2>/dev/null || true
  done
  PIDS=()
}

start_dynalite() { # port log
  tests/js/node_modules/.bin/dynalite --host 127.0.0.1 --port "$1" \
    --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$2" 2>&1 &
  PIDS+=($!)
  wait_for_port dynalite "$1" "${PIDS[-1]}" "$2"
}

# After `sam build`: each function's bootstrap, checked to be an arm64 Linux binary and
# zipped as `sam deploy` uploads it. Prints the sizes; writes target/bench/zip-sizes.json.
print_bootstrap_sizes() {
  python3 - <<'PY'
import io, json, pathlib, re, sys, zipfile
sizes = {}
print(f"\n{'function':<14} {'bootstrap':>12} {'zip':>12}")
for bootstrap in sorted(pathlib.Path(".aws-sam/build").glob("*/bootstrap")):
    logical = bootstrap.parent.name
    name = re.sub(r"(?<!^)(?=[A-Z])", "-", logical.removesuffix("Function")).lower()
    data = bootstrap.read_bytes()
    if data[:4] != b"\x7fELF" or int.from_bytes(data[18:20], "little") != 183:
        sys.exit(f"{logical}: {bootstrap} is not an arm64 (aarch64) ELF binary")
    buffer = io.BytesIO()
    entry = zipfile.ZipInfo("bootstrap")
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.external_attr = 0o755 << 16
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(entry, data, compresslevel=9)
    sizes[name] = len(buffer.getvalue())
    print(f"{name:<14} {len(data):>10} B {sizes[name]:>10} B")
if len(sizes) != 7:
    sys.exit(f"sam build made {len(sizes)} bootstraps, not 7")
pathlib.Path("target/bench").mkdir(parents=True, exist_ok=True)
pathlib.Path("target/bench/zip-sizes.json").write_text(json.dumps(sizes))
PY
}

# A test OpenID provider (tests/idp/provider.mjs: oidc-provider, its login and consent
# screens) on a free loopback port, for the tests of signing in through a provider. Sets
# IDP_ISSUER to its issuer (http://127.0.0.1:<port>); stopped with the other servers.
# IDP_APP_CLIENT_ID and its IDP_APP_* companions, when set, reach provider.mjs: an
# enterprise app whose ID tokens it exchanges for ID-JAGs.
start_test_idp() { # name client-id client-secret accounts.json log-dir redirect-uri...
  local name=$1 client_id=$2 secret=$3 accounts=$4 dir=$5
  shift 5
  local ready="$dir/idp-$name.ready" uri redirects=()
  for uri in "$@"; do
    redirects+=(--redirect-uri "$uri")
  done
  rm -f "$ready"
  # The secret through the environment, not the command line (which ps shows).
  IDP_CLIENT_SECRET="$secret" node tests/idp/provider.mjs --port 0 --ready-file "$ready" \
    --client-id "$client_id" --accounts "$accounts" "${redirects[@]}" >"$dir/idp-$name.log" 2>&1 &
  PIDS+=($!)
  wait_for_file "test OpenID provider $name" "$ready" "${PIDS[-1]}" "$dir/idp-$name.log"
  IDP_ISSUER=$(cat "$ready")
}

create_secret() { # endpoint region name: a Secrets Manager secret (moto) holding standard input
  .venv-test/bin/python -c '
import sys
import boto3
value = sys.stdin.read().rstrip("\n")
boto3.client("secretsmanager", endpoint_url=sys.argv[1], region_name=sys.argv[2],
             aws_access_key_id="local", aws_secret_access_key="local").create_secret(
    Name=sys.argv[3], SecretString=value)' "$1" "$2" "$3"
}
