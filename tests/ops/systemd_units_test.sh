#!/usr/bin/env bash
# systemd_units_test.sh BUILD_DIR [CMAKE]: the systemd units as the Debian package installs them, checked
# with systemd-analyze (Debian package `systemd`; ops/even deps installs it):
#   - `systemd-analyze verify` passes on every unit, with no warning at all (unknown keys are only
#     warnings there, so any output fails the test), against a root that holds the installed
#     programs (verify checks that ExecStart is executable) and systemd's own units;
#   - `systemd-analyze security --offline=true` rates every service at an exposure of 2.0 or less
#     (the template as an instance). even.target runs no process: it is verified, not rated (the
#     tool would rate it as a service running as root with no settings).
set -euo pipefail
build=${1:?usage: systemd_units_test.sh BUILD_DIR [CMAKE]}
cmake=${2:-cmake}
limit=2.0

if ! command -v systemd-analyze >/dev/null; then
  echo "FAIL: systemd-analyze is missing; install the Debian package 'systemd' (ops/even deps installs it)"
  exit 1
fi
root=$(mktemp -d /tmp/even-units-test.XXXXXX)
trap 'rm -rf "$root"' EXIT

# The package's layout: prefix /usr, units in /lib/systemd/system, config in /etc/even.
for component in runtime service; do
  DESTDIR=$root "$cmake" --install "$build" --prefix /usr --component "$component" >/dev/null
done
units=$root/lib/systemd/system
ls "$units"/even* >/dev/null
[ -f "$root/etc/even/even.conf" ] || { echo "FAIL: /etc/even/even.conf not installed"; exit 1; }
# systemd's own units (sysinit.target, network-online.target, ...), without replacing ours.
system_units=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
cp -an "$system_units"/. "$units"/
# What the units run that the package does not install: ExecReload's kill (procps, on every
# Debian host), which verify looks for inside the root.
mkdir -p "$root/bin" && cp /bin/kill "$root/bin/kill"

fail=0
check_verify() {
  local unit=$1 out rc=0
  out=$(cd "$root" && systemd-analyze verify --root="$root" "$unit" 2>&1) || rc=$?
  if [ "$rc" != 0 ] || [ -n "$out" ]; then
    echo "FAIL: systemd-analyze verify $unit (exit $rc):"; echo "$out" | sed 's/^/    /'; fail=1
  else
    echo "ok    verify   $unit"
  fi
}
check_security() {
  local unit=$1 out level
  out=$(cd "$root" && systemd-analyze security --offline=true --root="$root" "$unit" 2>&1) || true
  level=$(echo "$out" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p' | tail -1)
  if [ -z "$level" ]; then
    echo "FAIL: systemd-analyze security $unit gave no rating:"; echo "$out" | sed 's/^/    /'; fail=1
  elif awk -v l="$level" -v m="$limit" 'BEGIN { exit !(l > m) }'; then
    echo "FAIL: $unit exposure $level > $limit:"; echo "$out" | grep '✗' | sed 's/^/    /'; fail=1
  else
    echo "ok    exposure $level  $unit"
  fi
}

for path in "$units"/even*.service "$units"/even*.target; do
  unit=$(basename "$path")
  case $unit in
    *@.service)  # a template: checked as itself and as an instance
      check_verify "$unit"
      check_verify "${unit%@.service}@bank.service"
      check_security "${unit%@.service}@bank.service" ;;
    *.service) check_verify "$unit"; check_security "$unit" ;;
    *.target) check_verify "$unit" ;;
  esac
done
# Every unit the package ships is one of these; each service runs as Type=notify with a watchdog.
for unit in even-writer.service even-reader.service even-dispatcher.service even-projector@.service even-admin.service even-groups.service even.target; do
  [ -f "$units/$unit" ] || { echo "FAIL: $unit is not installed"; fail=1; }
done
for path in "$units"/even*.service; do
  for key in Type=notify WatchdogSec= Restart=on-failure TimeoutStopSec= LimitNOFILE= User=even; do
    grep -q "^$key" "$path" || { echo "FAIL: $(basename "$path") lacks $key"; fail=1; }
  done
done
[ $fail = 0 ] && echo "all units verified and rated <= $limit"
exit $fail
