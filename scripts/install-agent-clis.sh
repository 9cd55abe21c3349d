#!/usr/bin/env bash
# Installs node 24 and the pinned agent CLIs (Claude Code, Codex, Gemini CLI, Qwen Code, OpenCode, OpenClaw) from
# the npm registry into a cache folder outside the clone, for tests/agents (the real-CLI tests) and for developers.
#
#   scripts/install-agent-clis.sh [NAME...]      NAME: node claude codex gemini qwen opencode openclaw (default: all)
#
# Folder: ${IMCODES_AGENT_CLI_DIR:-$HOME/.cache/imcodes/agent-clis}, laid out as
#   node/                  node-linux-<arch> (the registry's node binary package)
#   <name>/                one npm prefix per CLI, so one CLI's dependencies never move another's
#   bin/                   node and every CLI's command, put this first on PATH
#   versions.json          what is installed (read by tests/agents and `imcodes doctor`)
# Safe to run again: a CLI whose pinned version is already there is skipped. Each install goes to a staging folder
# first and is renamed into place when complete, so an interrupted run never leaves a half-installed CLI behind.
# Pins: screens and internal files change between releases; the drivers were tested against exactly these versions
# (see ../shared/fixtures/README.md and docs/agents.md). Bump a pin only together with the drivers' golden screens.
set -euo pipefail

NODE_VERSION="24.22.3" # OpenClaw needs >= 24.16; Claude Code needs newer than 20 to resolve its current release
# name | npm package | version | command | extra npm flags
CLIS=(
  "claude|@anthropic-ai/claude-code|2.1.331|claude|"
  "codex|@openai/codex|0.169.0|codex|"
  "gemini|@google/gemini-cli|0.61.0|gemini|"
  "qwen|@qwen-code/qwen-code|0.24.4|qwen|"
  "opencode|opencode-ai|1.18.33|opencode|"
  "openclaw|openclaw|2026.9.6|openclaw|--ignore-scripts" # its install scripts fetch from outside the registry
)

DIR="${IMCODES_AGENT_CLI_DIR:-$HOME/.cache/imcodes/agent-clis}"
say() { printf '\033[1m[agent-clis]\033[0m %s\n' "$*"; }
die() { say "error: $*" >&2; exit 1; }

case "$(uname -m)" in
  x86_64 | amd64) ARCH=x64 ;;
  aarch64 | arm64) ARCH=arm64 ;;
  *) die "no node package for $(uname -m)" ;;
esac
[[ "$(uname -s)" == Linux ]] || die "only Linux is supported (node-linux-$ARCH)"
command -v npm >/dev/null || die "npm is needed (any version; it runs under the node 24 installed here)"

wanted=("$@")
want() { [[ ${#wanted[@]} -eq 0 ]] || [[ " ${wanted[*]} " == *" $1 "* ]]; }
for name in "${wanted[@]}"; do
  [[ "$name" == node ]] && continue
  found=0
  for spec in "${CLIS[@]}"; do [[ "${spec%%|*}" == "$name" ]] && found=1; done
  [[ $found -eq 1 ]] || die "unknown CLI '$name' (known: node $(printf '%s ' "${CLIS[@]%%|*}"))"
done

mkdir -p "$DIR/bin"
started=$(date +%s)

installed_version() { # prefix package -> version or nothing
  local manifest="$1/node_modules/$2/package.json"
  [[ -f "$manifest" ]] && sed -n 's/^  "version": "\(.*\)",*$/\1/p' "$manifest" | head -1
  return 0
}

npm_install() { # prefix "spec" [flags...]: into a staging folder, then renamed into place
  local prefix="$1" spec="$2"
  shift 2
  local staging="$prefix.staging"
  rm -rf "$staging"
  mkdir -p "$staging"
  printf '{"private": true}\n' >"$staging/package.json"
  if ! npm install --prefix "$staging" --no-audit --no-fund --no-update-notifier --loglevel=error "$@" "$spec" \
    >"$staging.log" 2>&1; then
    tail -20 "$staging.log" >&2
    rm -rf "$staging"
    die "npm install $spec failed (log: $staging.log)"
  fi
  rm -rf "$prefix" "$staging.log"
  mv "$staging" "$prefix"
}

# -- node 24 ------------------------------------------------------------------------------------------------------
node_pkg="node-linux-$ARCH"
if [[ "$(installed_version "$DIR/node" "$node_pkg")" == "$NODE_VERSION" ]]; then
  say "node $NODE_VERSION already installed"
else
  say "installing node $NODE_VERSION ($node_pkg)"
  t0=$(date +%s)
  npm_install "$DIR/node" "$node_pkg@$NODE_VERSION"
  say "node $NODE_VERSION installed in $(($(date +%s) - t0)) s"
fi
ln -sfn "../node/node_modules/$node_pkg/bin/node" "$DIR/bin/node"
# npm itself and every CLI's "#!/usr/bin/env node" now run under node 24, so engine checks resolve the pins
export PATH="$DIR/bin:$PATH"
[[ "$(node --version)" == "v$NODE_VERSION" ]] || die "node on PATH is $(node --version), expected v$NODE_VERSION"

# -- the CLIs -----------------------------------------------------------------------------------------------------
for spec in "${CLIS[@]}"; do
  IFS='|' read -r name package version command flags <<<"$spec"
  want "$name" || continue
  prefix="$DIR/$name"
  if [[ "$(installed_version "$prefix" "$package")" == "$version" ]]; then
    say "$name $version already installed"
  else
    say "installing $name ($package@$version)"
    t0=$(date +%s)
    # shellcheck disable=SC2086 # flags is a word list on purpose
    npm_install "$prefix" "$package@$version" $flags
    say "$name $version installed in $(($(date +%s) - t0)) s ($(du -sh "$prefix" | cut -f1))"
  fi
  [[ -e "$prefix/node_modules/.bin/$command" ]] || die "$package@$version has no '$command' command"
  ln -sfn "../$name/node_modules/.bin/$command" "$DIR/bin/$command"
done

# -- versions.json: everything found in the folder, not only what this run installed -------------------------------
{
  printf '{\n  "node": "%s",\n  "bin": "%s",\n  "clis": {' "$(installed_version "$DIR/node" "$node_pkg")" "$DIR/bin"
  sep=""
  for spec in "${CLIS[@]}"; do
    IFS='|' read -r name package version command flags <<<"$spec"
    have="$(installed_version "$DIR/$name" "$package")"
    [[ -n "$have" ]] || continue
    printf '%s\n    "%s": {"package": "%s", "version": "%s", "pinned": "%s", "command": "%s"}' \
      "$sep" "$name" "$package" "$have" "$version" "$command"
    sep=","
  done
  printf '\n  }\n}\n'
} >"$DIR/versions.json.tmp"
mv "$DIR/versions.json.tmp" "$DIR/versions.json"

say "done in $(($(date +%s) - started)) s: $DIR/versions.json; put $DIR/bin first on PATH"
