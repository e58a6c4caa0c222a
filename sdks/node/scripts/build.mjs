// Builds dist/esm (ES modules) and dist/cjs (CommonJS) with tsc, each with its .d.ts files.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
rmSync(join(root, 'dist'), { recursive: true, force: true });
for (const project of ['tsconfig.json', 'tsconfig.cjs.json']) {
  execFileSync(process.execPath, [tsc, '-p', join(root, project)], { stdio: 'inherit', cwd: root });
}
mkdirSync(join(root, 'dist', 'cjs'), { recursive: true });
writeFileSync(join(root, 'dist', 'esm', 'package.json'), '{ "type": "module" }\n');
writeFileSync(join(root, 'dist', 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
// `require('@caseforge/sdk')` is the class itself, with every named export on it (and `.default`).
writeFileSync(
  join(root, 'dist', 'cjs', 'index.cjs'),
  `'use strict';
const mod = require('./index.js');
const CaseForge = mod.default;
for (const [name, value] of Object.entries(mod)) {
  if (name !== 'default' && !Object.prototype.hasOwnProperty.call(CaseForge, name)) CaseForge[name] = value;
}
Object.defineProperty(CaseForge, 'default', { value: CaseForge, enumerable: false });
Object.defineProperty(CaseForge, '__esModule', { value: true, enumerable: false });
module.exports = CaseForge;
`,
);
console.log('built dist/esm and dist/cjs');
