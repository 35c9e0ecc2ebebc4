#!/usr/bin/env bash
# Pins every base image of the Dockerfile to the digest its tag points at
# now: `FROM golang:1.26-bookworm` becomes
# `FROM golang:1.26-bookworm@sha256:...`. Needs a reachable registry; every
# digest is resolved with crane (go-containerregistry) before the file is
# rewritten, so a failed lookup changes nothing. Run again to move the pins
# to the tags' current digests (Renovate does the same in pull requests).
#
# usage: CRANE=/path/to/crane hack/pin-images.sh [DOCKERFILE]
set -euo pipefail
dockerfile=${1:-$(dirname "$0")/../Dockerfile}
crane=${CRANE:-crane}

# The image of each FROM line: flags skipped; stage names, scratch and
# build-argument references are not images to pin.
mapfile -t images < <(awk '
  toupper($1) == "FROM" {
    i = 2; while ($i ~ /^--/) i++
    img = $i; base = img; sub(/@.*/, "", base)
    if (!(base in stage) && base != "scratch" && base !~ /\$/) print base
    if (toupper($(i+1)) == "AS") stage[$(i+2)] = 1
  }' "$dockerfile" | sort -u)
[ ${#images[@]} -gt 0 ] || { echo "pin-images: no base images in $dockerfile" >&2; exit 1; }

declare -A digest
for img in "${images[@]}"; do
  d=$("$crane" digest "$img") || { echo "pin-images: cannot resolve $img (is the registry reachable?); $dockerfile unchanged" >&2; exit 1; }
  [[ $d =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "pin-images: $img: unexpected digest '$d'; $dockerfile unchanged" >&2; exit 1; }
  digest[$img]=$d
  echo "$img -> $d" >&2
done

tmp=$(mktemp "$dockerfile.XXXXXX")
trap 'rm -f "$tmp"' EXIT
while IFS= read -r line || [ -n "$line" ]; do
  read -r -a f <<<"$line"
  if [ ${#f[@]} -gt 1 ] && [ "${f[0]^^}" = FROM ]; then
    i=1; while [[ ${f[$i]} == --* ]]; do i=$((i + 1)); done
    base=${f[$i]%%@*}
    if [ -n "${digest[$base]:-}" ]; then
      line=${line/"${f[$i]}"/"$base@${digest[$base]}"}
    fi
  fi
  printf '%s\n' "$line"
done <"$dockerfile" >"$tmp"
chmod --reference="$dockerfile" "$tmp"
mv "$tmp" "$dockerfile"
trap - EXIT
