// build.mjs — bundle the dashboard into OUT_DIR (default: dist/):
// app.js (Preact, htm, uPlot and the views, one ES module), app.css (its
// imported styles), index.html, favicon.svg. `make www` runs it after
// `npm ci`; everything comes from node_modules, so the result needs no
// network when it runs.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || join(here, 'dist'));
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(here, 'src/main.js') },
  outdir: out,
  bundle: true,
  format: 'esm',
  target: ['es2020'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
});
for (const f of ['index.html', 'favicon.svg']) copyFileSync(join(here, f), join(out, f));
console.log(`dashboard built in ${out}`);
