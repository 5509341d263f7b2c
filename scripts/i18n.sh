#!/usr/bin/env bash
# Message catalogues, one per feature area (petition/<area>/translations), so that the
# areas can be translated independently; Flask-Babel merges them at run time.
#   scripts/i18n.sh extract [area ...]   update the .pot and .po files (all areas, or those named)
#   scripts/i18n.sh compile   build the .mo files the app reads (run by make install)
#   scripts/i18n.sh check     fail if a catalogue has an untranslated or fuzzy message, or
#                             no longer matches the strings its area's sources use
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=${PYBABEL:-.venv/bin/pybabel}
LOCALES=(fr ar el)

# area -> the paths its strings live in
sources() {
  case "$1" in
    mail) echo "petition/mail" ;;  # each area's own emails live in templates/mail/<area>
    web) echo "petition/web petition/i18n.py petition/countries.py petition/text.py petition/forms.py templates/base.html templates/macros templates/web" ;;
    *) local paths="petition/$1"
       [ -d "templates/$1" ] && paths="$paths templates/$1"
       [ -d "templates/mail/$1" ] && paths="$paths templates/mail/$1"
       echo "$paths" ;;
  esac
}

areas() {
  for dir in petition/*/; do
    area=$(basename "$dir")
    [ "$area" = "__pycache__" ] && continue
    echo "$area"
  done
}

# extract_pot AREA FILE: the area's messages, as its sources use them now
extract_pot() {
  # shellcheck disable=SC2046
  "$PYBABEL" -q extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output -o "$2" $(sources "$1")
}

extract() {
  local selected=("$@")
  [ ${#selected[@]} -eq 0 ] && selected=($(areas))
  for area in "${selected[@]}"; do
    # shellcheck disable=SC2046
    if ! grep -rqsE '(^|[^A-Za-z0-9_])(_|_l|gettext|ngettext|lazy_gettext)\(' $(sources "$area"); then continue; fi
    out="petition/$area/translations"
    mkdir -p "$out"
    extract_pot "$area" "$out/messages.pot"
    for locale in "${LOCALES[@]}"; do
      if [ -f "$out/$locale/LC_MESSAGES/messages.po" ]; then
        "$PYBABEL" -q update -i "$out/messages.pot" -d "$out" -l "$locale" --no-fuzzy-matching --ignore-obsolete
      else
        "$PYBABEL" -q init -i "$out/messages.pot" -d "$out" -l "$locale"
      fi
    done
  done
  fix_arabic_plurals
}

# Babel writes an Arabic plural rule that orders the last two forms differently from
# CLDR's zero/one/two/few/many/other; Flask-Babel keeps one plural function for all the
# merged catalogues, so every Arabic catalogue gets the standard rule.
fix_arabic_plurals() {
  .venv/bin/python - <<'PY'
import pathlib, re
RULE = '"Plural-Forms: nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5);\\n"\n'
for po in pathlib.Path("petition").glob("*/translations/ar/LC_MESSAGES/messages.po"):
    text = po.read_text(encoding="utf-8")
    fixed = re.sub(r'"Plural-Forms:.*?;\\n"\n', lambda m: RULE, text, count=1, flags=re.S)
    if fixed != text:
        po.write_text(fixed, encoding="utf-8")
PY
}

compile() {
  for dir in petition/*/translations; do
    [ -d "$dir" ] || continue
    "$PYBABEL" -q compile -d "$dir" --use-fuzzy 2>/dev/null || "$PYBABEL" compile -d "$dir"
  done
}

check() {
  # Each area's template against a fresh extraction of its sources: a message that moved
  # to another area's files (and so to that area's catalogue) is caught here, before
  # the next extract drops its translations.
  local fresh
  fresh=$(mktemp -d)
  trap 'rm -rf "$fresh"' RETURN
  for area in $(areas); do
    [ -f "petition/$area/translations/messages.pot" ] && extract_pot "$area" "$fresh/$area.pot"
  done
  FRESH="$fresh" .venv/bin/python - <<'PY'
import os, pathlib, sys
from babel.messages.pofile import read_po
problems = []
def ids(path):
    with open(path, "rb") as handle:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
for fresh in sorted(pathlib.Path(os.environ["FRESH"]).glob("*.pot")):
    template = pathlib.Path("petition", fresh.stem, "translations", "messages.pot")
    now, kept = ids(fresh), ids(template)
    problems += [f"{template}: used but not in the catalogue: {m!r}" for m in sorted(now - kept)]
    problems += [f"{template}: in the catalogue but no longer used here: {m!r}" for m in sorted(kept - now)]
for po in sorted(pathlib.Path("petition").glob("*/translations/*/LC_MESSAGES/messages.po")):
    template = po.parents[2] / "messages.pot"
    if template.exists() and ids(po) != ids(template):
        problems.append(f"{po}: its messages differ from {template} (run scripts/i18n.sh extract)")
    with po.open("rb") as handle:
        catalog = read_po(handle)
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings) or message.fuzzy:
            problems.append(f"{po}: {message.id if isinstance(message.id, str) else message.id[0]!r}")
print("\n".join(problems) if problems else "all catalogues complete")
sys.exit(1 if problems else 0)
PY
}

case "${1:-}" in
  extract) shift; extract "$@" ;;
  fix-plurals) fix_arabic_plurals ;;
  compile) compile ;;
  check) check ;;
  *) echo "usage: $0 extract|compile|check" >&2; exit 2 ;;
esac
