#!/usr/bin/env bash
# Installs what the probe's integration tests (audit/probe/sambatest) need:
# Samba's AD domain controller and provisioning tools (samba-ad-provision is
# only a Recommends of samba-ad-dc, so it is named), and rpcclient
# (smbclient), the reference the probe's endpoint list is compared with.
# Idempotent: installs only what is missing, and does nothing when all of it
# is there. Needs root (apt-get); exits 1 when it cannot install.
#
# Installing the packages starts no daemon in a container without systemd;
# the tests run their own samba in a network namespace.
set -euo pipefail

packages="samba-ad-dc samba-ad-provision smbclient"
missing=""
for p in $packages; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "install-samba: already installed:$(for p in $packages; do printf ' %s' "$p"; done)"
else
  if [ "$(id -u)" != 0 ]; then
    echo "install-samba: need root to install:$missing" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  echo "install-samba: installed:$missing"
fi
for tool in samba samba-tool rpcclient; do
  command -v "$tool" >/dev/null || { echo "install-samba: $tool not on PATH after install" >&2; exit 1; }
done
samba --version
