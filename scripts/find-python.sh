#!/usr/bin/env bash
# Prints the path of a working Python 3.13 interpreter, or explains what to install.
set -u
for candidate in "${PYTHON:-}" python3.13; do
  [ -n "$candidate" ] || continue
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
    command -v "$candidate"; exit 0
  fi
done
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for dir in $(ls -d "$root"/versions/3.13* 2>/dev/null | sort -V -r); do
    if "$dir/bin/python3.13" -c '' 2>/dev/null; then echo "$dir/bin/python3.13"; exit 0; fi
  done
fi
cat >&2 <<'MSG'
error: Python 3.13 not found (the Lambda runtime is python3.13; tests run on the same version).
Install it, then re-run make:
  - Debian/Ubuntu:  sudo apt-get install python3.13 python3.13-venv   (or the deadsnakes PPA)
  - macOS:          brew install python@3.13
  - pyenv:          pyenv install 3.13
  - or point make at one:  make PYTHON=/path/to/python3.13 ...
MSG
exit 1
