// npm pack → install into an empty project → ESM import, CommonJS require, and tsc (strict,
// nodenext) over the shipped .d.ts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { sdkDir } from './helpers/stack.mjs';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let work;
let project;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'caseforge-sdk-pack-'));
  const out = execFileSync(npm, ['pack', '--json', '--pack-destination', work], { cwd: sdkDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const [{ filename, files }] = JSON.parse(out.slice(out.indexOf('[')));
  const paths = files.map((f) => f.path);
  for (const must of ['dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/cjs/index.cjs', 'dist/cjs/index.d.ts', 'README.md', 'CHANGELOG.md', 'package.json']) {
    assert.ok(paths.includes(must), `${must} is in the tarball`);
  }
  assert.ok(!paths.some((p) => p.startsWith('src/') || p.startsWith('test/') || p.startsWith('node_modules/')));
  project = join(work, 'consumer');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  execFileSync(npm, ['install', '--no-audit', '--no-fund', '--offline', join(work, filename)], { cwd: project, stdio: ['ignore', 'ignore', 'inherit'] });
  const installed = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
  assert.deepEqual(Object.keys(installed.dependencies), ['@caseforge/sdk']);
  // No runtime dependency came along.
  const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8'));
  assert.deepEqual(Object.keys(lock.packages).filter((p) => p !== ''), ['node_modules/@caseforge/sdk']);
});
after(() => rmSync(work, { recursive: true, force: true }));

const run = (file) => execFileSync(process.execPath, [file], { cwd: project, encoding: 'utf8', env: { ...process.env, CASEFORGE_API_KEY: 'cf_sand_pack' } });

test('ESM: import CaseForge from "@caseforge/sdk"', () => {
  writeFileSync(
    join(project, 'esm.mjs'),
    `import CaseForge, { NotFoundError, APIError, VERSION } from '@caseforge/sdk';
const c = new CaseForge();
if (typeof c.cases.list !== 'function' || CaseForge.NotFoundError !== NotFoundError) throw new Error('bad');
if (!(new NotFoundError(404, {}, new Headers()) instanceof APIError)) throw new Error('hierarchy');
console.log('esm', VERSION, c.credentialType);
`,
  );
  assert.equal(run('esm.mjs').trim(), `esm ${pkgVersion()} api_key`);
});

test('CommonJS: require("@caseforge/sdk")', () => {
  writeFileSync(
    join(project, 'cjs.cjs'),
    `const CaseForge = require('@caseforge/sdk');
const { NotFoundError, APIError, CaseForge: Named } = require('@caseforge/sdk');
const c = new CaseForge();
if (Named !== CaseForge || CaseForge.default !== CaseForge || CaseForge.NotFoundError !== NotFoundError) throw new Error('bad');
if (!(new NotFoundError(404, {}, new Headers()) instanceof APIError)) throw new Error('hierarchy');
console.log('cjs', CaseForge.VERSION, c.credentialType);
`,
  );
  assert.equal(run('cjs.cjs').trim(), `cjs ${pkgVersion()} api_key`);
});

test('types: tsc strict, nodenext, over the installed package (including @ts-expect-error checks)', () => {
  copyFileSync(join(sdkDir, 'test', 'consumer', 'types.ts'), join(project, 'types.ts'));
  copyFileSync(join(sdkDir, 'test', 'consumer', 'types-cjs.cts'), join(project, 'types-cjs.cts'));
  mkdirSync(join(project, 'node_modules', '@types'), { recursive: true });
  symlinkSync(join(sdkDir, 'node_modules', '@types', 'node'), join(project, 'node_modules', '@types', 'node'));
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: false, types: ['node'], exactOptionalPropertyTypes: true },
      files: ['types.ts', 'types-cjs.cts'],
    }),
  );
  const tsc = join(sdkDir, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', project], { cwd: project, encoding: 'utf8' });
  } catch (e) {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  }
});

function pkgVersion() {
  return JSON.parse(readFileSync(join(sdkDir, 'package.json'), 'utf8')).version;
}
