#!/usr/bin/env bash
# System packages the project needs beyond Python: fonts for the PDF bundles and share
# images (Arabic, Greek and Latin glyphs), poppler for the share images and for
# pdftotext/pdftoppm in tests, Chromium for the browser tests, nginx to check
# deploy/nginx/petition.conf (`nginx -t`) in tests. Installed from Debian's packages when missing and when we are root;
# otherwise we say what is missing and carry on (the tests that need it skip with a reason).
# (grep without -q: with pipefail, -q closing the pipe early would fail the check.)
set -uo pipefail
want=()
for item in "$@"; do
  case "$item" in
    fonts)
      fc-list : family 2>/dev/null | grep -i "Noto Naskh Arabic" >/dev/null || want+=(fonts-noto-core)
      fc-list : family 2>/dev/null | grep -i "DejaVu Sans" >/dev/null || want+=(fonts-dejavu-core)
      # the job worker rasterises the share images with pdftoppm
      command -v pdftoppm >/dev/null 2>&1 || want+=(poppler-utils)
      ;;
    browser)
      command -v chromium >/dev/null 2>&1 || want+=(chromium)
      command -v pdftoppm >/dev/null 2>&1 || want+=(poppler-utils)
      ;;
    nginx)
      command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || want+=(nginx)
      ;;
  esac
done
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${want[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null 2>&1 \
    || echo "warning: could not install ${want[*]}" >&2
  if [[ " ${want[*]} " == *" nginx "* ]]; then
    # Only the binary is wanted (tests run their own instance): no web server left on port 80.
    { systemctl disable --now nginx || service nginx stop; } >/dev/null 2>&1 || true
  fi
else
  echo "note: missing system packages (install them with your package manager): ${want[*]}" >&2
fi
exit 0
