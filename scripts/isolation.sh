#!/usr/bin/env bash
# Isolation pass: each first-party plugin under plugins/ is tested in a throwaway virtual environment that holds
# only imcodes-core (with its `testing` extra: pytest, pytest-asyncio, pytest-timeout) and that one plugin, plus the
# plugin's own `test` extra when it declares one. A plugin that imports something it never declared fails here,
# even though the workspace venv (which has everything) would hide it.
# Tests run from the plugin's folder, so pytest reads the plugin's own [tool.pytest.ini_options].
# pytest's exit code 5 (no test collected) counts as a failure. Usage: scripts/isolation.sh [plugin-folder-name...]
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { printf '\033[1m[isolation]\033[0m %s\n' "$*"; }

if command -v uv >/dev/null; then uv_bin=$(command -v uv)
elif [[ -x .venv/bin/uv ]]; then uv_bin=.venv/bin/uv
else say "uv not found: run scripts/setup first"; exit 1
fi

# The same interpreter the workspace uses, so no interpreter download is ever needed.
python_bin=python3
[[ -x .venv/bin/python ]] && python_bin=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')

work=$(mktemp -d "${TMPDIR:-/tmp}/imcodes-isolation.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [[ $# -gt 0 ]]; then plugins=("$@"); else
  plugins=()
  for dir in plugins/*/; do plugins+=("$(basename "$dir")"); done
fi

passed=(); failed=()
for name in "${plugins[@]}"; do
  dir="plugins/$name"
  if [[ ! -f "$dir/pyproject.toml" ]]; then say "$name: no pyproject.toml"; failed+=("$name"); continue; fi
  venv="$work/$name"
  spec="$dir"
  grep -Eq '^test *=' "$dir/pyproject.toml" && spec="$dir[test]"
  say "$name: fresh venv with imcodes-core + $spec"
  if ! "$uv_bin" venv --quiet --python "$python_bin" "$venv" \
     || ! "$uv_bin" pip install --quiet --python "$venv/bin/python" -e "$repo[testing]" -e "$repo/$spec"; then
    say "$name: FAILED to install"; failed+=("$name"); continue
  fi
  # The venv's pytest (not `python -m pytest`), so the plugin folder itself is not put on sys.path.
  (cd "$dir" && IMCODES_STRICT_PLUGINS=1 "$venv/bin/pytest" -q)
  status=$?
  if [[ $status -eq 0 ]]; then say "$name: passed"; passed+=("$name")
  elif [[ $status -eq 5 ]]; then say "$name: FAILED (no tests collected)"; failed+=("$name")
  else say "$name: FAILED (pytest exit $status)"; failed+=("$name")
  fi
done

echo
say "summary: ${#passed[@]} plugin(s) passed, ${#failed[@]} failed"
for name in "${passed[@]}"; do echo "  pass  $name"; done
for name in "${failed[@]}"; do echo "  FAIL  $name"; done
[[ ${#failed[@]} -eq 0 ]]
