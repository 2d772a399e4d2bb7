#!/usr/bin/env bash
# The wheel a user installs has every package, every data file and every command:
#   1. build the wheel from this checkout;
#   2. every package folder (a folder with __init__.py) and every data file of the source tree
#      is in it, under its touchline.* name;
#   3. install it with its dependencies into a fresh venv (no system site-packages, no
#      checkout on the path) and run `--help` of every command there; the command tree must be
#      the one the checkout has (touchline/cli/main.py drops a command whose module is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# from a copy of the source files only: a stale setuptools build/ folder would fill the wheel
# with packages the package list no longer names
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard | tar -cf - --null -T - | tar -xf - -C "$work/src"
"$PY" -m pip wheel -q --no-deps -w "$work/dist" "$work/src"
wheel=$(ls "$work"/dist/touchline-*.whl)

# 2. what the source tree says must be there, as paths inside the wheel
expected() {
  local folder=$1 name=$2
  (cd "$folder" && find . -name __init__.py -not -path '*/__pycache__/*') | sed "s|^\.|$name|"
}
{
  expected touchline touchline
  expected schemas touchline/schemas
  expected streams touchline/streams
  expected sinks touchline/sinks
  expected dashboards touchline/dashboards
  ls sinks/ddl/*.sql | sed 's|^|touchline/|'
  ls schemas/*.json | sed 's|^|touchline/|'
  find dashboards/generated dashboards/provisioning dashboards/clickhouse-init -type f \
    | sed 's|^|touchline/|'
  ls dashboards/schema/*.json | sed 's|^|touchline/|'
} | sort > "$work/expected"
"$PY" -m zipfile -l "$wheel" | awk 'NR > 1 {print $1}' | sort > "$work/in_wheel"
missing=$(comm -23 "$work/expected" "$work/in_wheel")
if [ -n "$missing" ]; then
  echo "check_wheel: missing from $(basename "$wheel"):" >&2
  echo "$missing" >&2
  exit 1
fi
grep -qx 'touchline-0.1.0.dist-info/licenses/LICENSE' "$work/in_wheel" \
  || { echo "check_wheel: LICENSE is not in the wheel" >&2; exit 1; }

# 3. a fresh venv with the wheel and its pinned dependencies (pip's cache keeps it quick)
"$PY" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check "$wheel"

# every command path, as the checkout's CLI and the installed CLI see them
list_commands='
import click, sys
from touchline.cli.main import main
def walk(cmd, path):
    yield " ".join(path)
    if isinstance(cmd, click.Group):
        for name in sorted(cmd.commands):
            yield from walk(cmd.commands[name], [*path, name])
print("\n".join(walk(main, [])))
'
"$PY" -c "$list_commands" > "$work/commands.checkout"
(cd "$work" && venv/bin/python -c "$list_commands") > "$work/commands.wheel"
if ! diff -u "$work/commands.checkout" "$work/commands.wheel" >&2; then
  echo "check_wheel: the installed wheel has other commands than the checkout (above)" >&2
  exit 1
fi
count=0
while IFS= read -r path; do
  # shellcheck disable=SC2086  # the path is words: `touchline plan load --help`
  (cd "$work" && venv/bin/touchline $path --help > /dev/null) \
    || { echo "check_wheel: \`touchline $path --help\` failed from the wheel" >&2; exit 1; }
  count=$((count + 1))
done < "$work/commands.wheel"
echo "check_wheel: $(basename "$wheel"): every package and data file, $count commands' --help run from a fresh venv"
