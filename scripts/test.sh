#!/usr/bin/env bash
# `npm test`: installs what the suite needs (Debian packages as root, npm dependencies),
# builds, and runs every test. Extra arguments go to vitest (e.g. a file to run alone).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: Chromium for every page, git for the fresh-clone test,
# openssl for the TLS test's certificate; ClamAV, e2fsprogs, util-linux and mtools for the USB
# scan-station tests; a real X server, window manager, apps, idle reader, locker, input
# synthesiser and screenshot tool for the session-control tests; Wine, the mingw-w64 cross
# compiler and gendef (mingw-w64-tools) to build the Windows addon and run it with the real
# node.exe, and clang to syntax-check the macOS code (test/helpers/win32-cross.ts); PostgreSQL for
# the shared console store (throwaway clusters: bench/postgres-cluster.ts); NATS for the console
# processes' message bus and Redis to measure it against (bench/bus-servers.ts); HAProxy in front of
# several console processes (bench/haproxy.ts).
DEB_PACKAGES=(postgresql nats-server redis-server haproxy chromium git openssl python3 systemd desktop-file-utils clamav clamav-daemon clamdscan e2fsprogs util-linux mtools xvfb openbox xdotool x11-utils x11-apps xprintidle i3lock xsecurelock xscreensaver xdg-utils imagemagick xterm exfat-fuse exfatprogs dbus-daemon dbus-bin wine64 g++-mingw-w64-x86-64 mingw-w64-tools clang)
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for pkg in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "Installing Debian packages: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
  # Everything the suite needs is now here, so nothing may be skipped for want of it, and the
  # fanotify addon must build (test/helpers/requirements.ts, scripts/prepare.mjs).
  if [ "$(uname -s)" = Linux ]; then
    export VIGIL_TESTS_REQUIRE_ALL=1 VIGIL_REQUIRE_FANOTIFY=1 VIGIL_REQUIRE_PEERCRED=1
  fi
fi

node scripts/prepare.mjs
mkdir -p test-results
status=0
# Lint (layers, ESLint, Prettier) on a full run; a violation fails `npm test` but the tests still
# run, so one CI run reports both. A run of chosen files (extra arguments) skips it.
if [ "$#" -eq 0 ]; then
  npm run lint || { status=$?; echo "npm run lint failed (layers, ESLint or formatting): see above"; }
fi
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json "$@" || status=$?
# One plain summary line, whatever the reporter above printed.
node -e '
  const r = JSON.parse(require("fs").readFileSync("test-results/vitest.json", "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' || true
exit "$status"
