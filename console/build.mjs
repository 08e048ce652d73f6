// build.mjs — bundles the console into <outdir>/app.js and <outdir>/app.css (minified, no source maps),
// run by scripts/console_embed.cmake at every C build: `node build.mjs <outdir>`. Offline: esbuild and the
// libraries come from node_modules (npm ci, pinned by package-lock.json).
import { build } from 'esbuild';

const outdir = process.argv[2];
if (!outdir) {
  console.error('usage: node build.mjs <outdir>');
  process.exit(2);
}
const common = { bundle: true, minify: true, logLevel: 'warning', legalComments: 'none', charset: 'utf8' };
try {
  await build({ ...common, entryPoints: ['src/main.js'], outfile: `${outdir}/app.js`, format: 'esm',
                target: ['chrome100', 'firefox100', 'safari15'] });
  await build({ ...common, entryPoints: ['src/style.css'], outfile: `${outdir}/app.css`,
                target: ['chrome100', 'firefox100', 'safari15'] });
} catch (error) {
  process.exit(1); // esbuild has printed what failed
}
