#!/usr/bin/env bash
# Message catalogues, one per feature area (petition/<area>/translations), so that the
# areas can be translated independently; Flask-Babel merges them at run time.
#   scripts/i18n.sh extract [area ...]   update the .pot and .po files (all areas, or those named)
#   scripts/i18n.sh compile   build the .mo files the app reads (run by make install)
#   scripts/i18n.sh check     fail if a catalogue has an untranslated or fuzzy message
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

extract() {
  local selected=("$@")
  [ ${#selected[@]} -eq 0 ] && selected=($(areas))
  for area in "${selected[@]}"; do
    # shellcheck disable=SC2046
    if ! grep -rqsE '(^|[^A-Za-z0-9_])(_|_l|gettext|ngettext|lazy_gettext)\(' $(sources "$area"); then continue; fi
    out="petition/$area/translations"
    mkdir -p "$out"
    # shellcheck disable=SC2046
    "$PYBABEL" -q extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
      -o "$out/messages.pot" $(sources "$area")
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
  .venv/bin/python - <<'PY'
import pathlib, sys
from babel.messages.pofile import read_po
problems = []
for po in sorted(pathlib.Path("petition").glob("*/translations/*/LC_MESSAGES/messages.po")):
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
