#!/usr/bin/env bash
# The test command (README): installs the servers and tools the tests run against when missing (as root, from
# Debian: MariaDB, nats-server, Prometheus with promtool, kubectl for `kubectl kustomize`, Chromium for the HTML report),
# builds the solution, runs every test project and prints one line: "N passed, N failed, N skipped".
# Exits non-zero on any failure, on an errored test run, or when no test ran.
# --fast: the developer's loop: only tests without [Trait("Category", "Server")] (no server, host or process;
# nothing is installed and the benchmarks are not listed). CI runs everything (docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
configuration="${CONFIGURATION:-Release}"
fast=false
filter=()
for argument in "$@"; do
  case "$argument" in
    --fast) fast=true; filter=(-trait- "Category=Server") ;;
    *) echo "usage: tests/run.sh [--fast]" >&2; exit 2 ;;
  esac
done

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
missing=()
# The servers and tools the server tests need; the fast loop needs none.
install_missing() {
  have mariadbd || missing+=(mariadb-server)
  have nats-server || missing+=(nats-server)
  have prometheus && have promtool || missing+=(prometheus)
  have chromium || missing+=(chromium)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "Installing ${missing[*]} ..."
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      echo "Missing ${missing[*]}: install them, or set MYSQL_TEST_URI / NATS_TEST_URL / CHROMIUM_TEST_BINARY; those tests will be skipped." >&2
    fi
  fi

  # kubectl renders the k8s/ manifests; Debian calls its package kubernetes-client when no kubectl repository is set up.
  if ! have kubectl && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing kubectl ..."
    [ ${#missing[@]} -gt 0 ] || apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kubectl >/dev/null 2>&1 \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null 2>&1 \
      || echo "No kubectl package: the manifest tests will be skipped (or fail where DATAMANAGER_REQUIRE_SERVERS names kubectl)." >&2
  fi
}
[ "$fast" = true ] || install_missing

echo "Building ($configuration) ..."
dotnet build DataManager.sln -c "$configuration" -nologo -v quiet -clp:ErrorsOnly

passed=0; failed=0; skipped=0; status=0
results_dir="$(mktemp -d)"
for project in tests/*/; do
  name="$(basename "$project")"
  [ -f "$project/$name.csproj" ] || continue
  grep -q "<IsTestProject>true</IsTestProject>" "$project/$name.csproj" || continue
  dll="$project/bin/$configuration/net10.0/$name.dll"
  log="$results_dir/$name.log"
  echo "Running $name ..."
  set +e
  dotnet "$dll" -noColor -noLogo -xml "$results_dir/$name.xml" "${filter[@]}" >"$log" 2>&1
  code=$?
  set -e
  # Failures and skips with their reasons; the full log stays in $results_dir.
  grep -E "\[FAIL\]" -A 14 "$log" | grep -vE '^\s*\{"@t"' | head -400 || true
  grep -E "\[SKIP\]" -A 1 "$log" | grep -vE '^--$' | head -100 || true
  summary="$(grep -E "^\s*$name\s+Total:" "$log" | tail -1)"
  if [ -z "$summary" ]; then
    echo "$name: no summary (exit $code); last lines:"; tail -40 "$log"; status=1; continue
  fi
  echo "$summary"
  total=$(sed -E 's/.*Total: ([0-9]+).*/\1/' <<<"$summary")
  errors=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$summary")
  f=$(sed -E 's/.*Failed: ([0-9]+).*/\1/' <<<"$summary")
  s=$(sed -E 's/.*Skipped: ([0-9]+).*/\1/' <<<"$summary")
  notrun=$(sed -E 's/.*Not Run: ([0-9]+).*/\1/' <<<"$summary")
  passed=$((passed + total - f - s - notrun)); failed=$((failed + f + errors)); skipped=$((skipped + s))
  [ "$code" = 0 ] && [ "$errors" = 0 ] || status=1
done

# The benchmark project must stay runnable: list its benchmarks (running them is for the README's figures).
if [ "$fast" = false ] && ! dotnet tests/DataManager.Benchmarks/bin/"$configuration"/net10.0/DataManager.Benchmarks.dll --list flat >/dev/null 2>&1; then
  echo "DataManager.Benchmarks does not list its benchmarks"; status=1
fi

[ $((passed + failed)) -gt 0 ] || { echo "No test ran."; status=1; }
[ "$failed" = 0 ] || status=1
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
