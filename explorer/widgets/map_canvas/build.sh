#!/bin/sh
# Rebuild regl_scatterplot.js: regl-scatterplot and its dependencies (all MIT, earcut ISC) as one script that
# defines `reglScatterplot` = {createScatterplot, createRenderer}; __init__.py puts it before canvas.js.
# Needs npm (a registry); runs in a scratch folder, then writes the bundle and every package's licence here.
set -e
work=${1:-/tmp/regl-scatterplot-build}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work" && cd "$work"
[ -f package.json ] || npm init -y >/dev/null
npm install regl-scatterplot@1.16.0 esbuild@0.28.2
echo 'export { default as createScatterplot, createRenderer } from "regl-scatterplot";' > entry.js
npx esbuild entry.js --bundle --format=iife --global-name=reglScatterplot --minify --legal-comments=none \
  --outfile="$here/regl_scatterplot.js"
: > "$here/regl_scatterplot.LICENSE"
for p in regl-scatterplot regl regl-line pub-sub-es dom-2d-camera camera-2d-simple gl-matrix earcut @flekschas/utils; do
  f=$(ls node_modules/$p/LICENSE* 2>/dev/null | head -1)
  printf '==== %s (%s)\n' "$p" "$(node -p "require('./node_modules/$p/package.json').version")" >> "$here/regl_scatterplot.LICENSE"
  if [ -n "$f" ]; then cat "$f"; else node -p "'license: ' + require('./node_modules/$p/package.json').license"; fi >> "$here/regl_scatterplot.LICENSE"
  echo >> "$here/regl_scatterplot.LICENSE"
done
