#!/usr/bin/env bash
# Install the Debian packages of deploy/debian-packages.txt that are missing, so the
# README's two commands work on a fresh machine (`make up` and `make test` call it).
#
#   deploy/debian-packages.sh [install]      install the missing packages of the list
#   deploy/debian-packages.sh install NAME.. install these (when missing) instead of the list
#   deploy/debian-packages.sh check [NAME..] print the missing ones; exit 1 when any is missing
#   deploy/debian-packages.sh list           the packages of the list, one a line
#
# Installing needs root, or sudo. Fast when nothing is missing (one dpkg-query).
# apt-get runs with --no-install-recommends and waits for a dpkg lock held by
# another install (several worktrees may install at once); when the package
# lists are missing or stale it runs `apt-get update` once and tries again.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIST="$REPO/deploy/debian-packages.txt"

say() { printf '[packages] %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

list_packages() {  # names from the list: comments and blank lines dropped, names checked
  [[ -f "$LIST" ]] || die "$LIST is missing"
  local line name
  while IFS= read -r line || [[ -n "$line" ]]; do
    name="${line%%#*}"; name="${name//[[:space:]]/}"
    [[ -z "$name" ]] && continue
    [[ "$name" =~ ^[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?$ ]] || die "'$name' in $LIST is not a Debian package name"
    echo "$name"
  done < "$LIST"
}

missing_packages() {  # the arguments that dpkg does not report installed
  local name
  for name in "$@"; do
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$name" 2>/dev/null)" == installed ]] || echo "$name"
  done
}

apt_runner() {  # how to run apt-get as root here, or fail with the command to run
  if [[ "$(id -u)" == 0 ]]; then echo ""; return; fi
  if command -v sudo >/dev/null && { sudo -n true 2>/dev/null || [[ -t 0 ]]; }; then echo sudo; return; fi
  die "missing Debian packages: $*; install them with: sudo apt-get install $*"
}

install_packages() {
  local missing; mapfile -t missing < <(missing_packages "$@")
  ((${#missing[@]})) || return 0
  local sudo; sudo="$(apt_runner "${missing[@]}")"
  local log; log="$(mktemp)"
  local apt=($sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -y -q)
  say "installing ${missing[*]} with apt-get (what deploy/debian-packages.txt asks for is missing)..."
  local started=$SECONDS
  if ! "${apt[@]}" install --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    say "apt-get install failed; refreshing the package lists (apt-get update) and trying again"
    if ! { "${apt[@]}" update >>"$log" 2>&1 && "${apt[@]}" install --no-install-recommends "${missing[@]}" >>"$log" 2>&1; }; then
      tail -15 "$log" >&2; rm -f "$log"
      die "apt-get could not install ${missing[*]} (output above)"
    fi
  fi
  rm -f "$log"
  mapfile -t missing < <(missing_packages "${missing[@]}")
  ((${#missing[@]} == 0)) || die "apt-get finished but ${missing[*]} still is not installed"
  say "installed in $((SECONDS - started)) s"
}

cmd="${1:-install}"; shift || true
if [[ "$cmd" == list ]]; then list_packages; exit 0; fi
if (($# == 0)); then mapfile -t names < <(list_packages); set -- "${names[@]}"; fi
if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  say "not a Debian/Ubuntu system: make sure the equivalents of these are installed: $*"
  exit 0
fi
case "$cmd" in
  install) install_packages "$@" ;;
  check)
    mapfile -t missing < <(missing_packages "$@")
    if ((${#missing[@]})); then printf '%s\n' "${missing[@]}"; exit 1; fi
    ;;
  *) die "unknown command '$cmd' (install, check, list)" ;;
esac
