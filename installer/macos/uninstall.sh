#!/bin/sh
# Removes Vigil from a Mac (pkgs have no uninstaller): run as root, e.g. from the MDM:
#   sudo "/Applications/Vigil.app/Contents/Resources/macos/uninstall.sh"
# Tells the console first (signed with the device key), so it revokes the device.
# NOT VERIFIED on macOS here: written against launchctl(1) and pkgutil(1).
set -e
APP="/Applications/Vigil.app"
SERVICE_DIR="$APP/Contents/Resources/service"
SUPPORT="/Library/Application Support/Vigil"

launchctl bootout system/org.vigil.agent 2>/dev/null || true
console_uid="$(stat -f %u /dev/console 2>/dev/null || echo 0)"
[ "$console_uid" = "0" ] || launchctl bootout "gui/$console_uid/org.vigil.tray" 2>/dev/null || true

"$SERVICE_DIR/node" "$SERVICE_DIR/bin/vigil.js" agent uninstall-notice --data-dir "$SUPPORT/agent" ||
  echo "vigil: could not tell the console; revoke this device there by hand" >&2

rm -f /Library/LaunchDaemons/org.vigil.agent.plist /Library/LaunchAgents/org.vigil.tray.plist
rm -rf "$SUPPORT" /etc/vigil /Library/Logs/Vigil "$APP"
pkgutil --forget org.vigil.agent >/dev/null 2>&1 || true
echo "Vigil removed."
