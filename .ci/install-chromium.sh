#!/usr/bin/env bash
# Installs what the HTML report's browser test needs (audit/report
# browser_test.go): Debian's chromium to render the report headless to PNG
# and PDF, poppler-utils for pdftotext and pdfinfo to read the PDF back,
# and one font so that text renders the same on every run. Idempotent: does
# nothing when everything is installed. Needs root (CI runs as root); as
# another user it only reports what is missing.
set -euo pipefail

missing=""
for p in chromium poppler-utils fonts-dejavu-core; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -z "$missing" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-chromium: not root; missing:$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # the list is meant to split into words
apt-get install -y -qq --no-install-recommends $missing >/dev/null
command -v chromium >/dev/null
command -v pdftotext >/dev/null
