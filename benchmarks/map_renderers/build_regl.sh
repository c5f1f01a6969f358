#!/bin/sh
# Rebuild regl_scatter.js: regl-scatterplot and its dependencies (all MIT, earcut ISC) in one ES module.
set -e
work=${1:-/tmp/regl-scatterplot-build}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work" && cd "$work"
[ -f package.json ] || npm init -y >/dev/null
npm install regl-scatterplot@1.16.0 esbuild@0.28.2
cp "$here/regl_entry.js" .
npx esbuild regl_entry.js --bundle --format=esm --minify --legal-comments=none --outfile="$here/regl_scatter.js"
# every bundled package's licence notice, in one file beside the bundle
: > "$here/regl_scatter.LICENSE"
for p in regl-scatterplot regl regl-line pub-sub-es dom-2d-camera camera-2d-simple gl-matrix earcut @flekschas/utils; do
  f=$(ls node_modules/$p/LICENSE* 2>/dev/null | head -1)
  printf '==== %s (%s)\n' "$p" "$(node -p "require('./node_modules/$p/package.json').version")" >> "$here/regl_scatter.LICENSE"
  if [ -n "$f" ]; then cat "$f"; else node -p "'license: ' + require('./node_modules/$p/package.json').license"; fi >> "$here/regl_scatter.LICENSE"
  echo >> "$here/regl_scatter.LICENSE"
done
