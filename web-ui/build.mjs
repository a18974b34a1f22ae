// Builds the web UI into dist/: our own files as they are (no bundler: plain ES modules),
// hls.js from npm, and a gzip copy of each that the box serves to browsers that accept it.
// Prints each file's size: the page weight.
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

const here = new URL('.', import.meta.url).pathname;
const dist = join(here, 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'vendor'), { recursive: true });
cpSync(join(here, 'src'), dist, { recursive: true });
cpSync(join(here, 'node_modules/hls.js/dist/hls.light.min.js'), join(dist, 'vendor/hls.min.js'));

const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else files.push(path);
  }
};
walk(dist);
let raw = 0;
let gz = 0;
for (const path of files.sort()) {
  const body = readFileSync(path);
  const packed = gzipSync(body, { level: 9 });
  writeFileSync(`${path}.gz`, packed);
  raw += body.length;
  gz += packed.length;
  console.log(`${relative(dist, path).padEnd(22)} ${String(body.length).padStart(8)} B  gzip ${String(packed.length).padStart(7)} B`);
}
console.log(`${'total'.padEnd(22)} ${String(raw).padStart(8)} B  gzip ${String(gz).padStart(7)} B`);
