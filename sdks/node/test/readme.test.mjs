// The root README's "Node" example, run as written against the real services.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

import { repoDir, sdkDir, startStack } from './helpers/stack.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

function example() {
  const readme = readFileSync(join(repoDir, 'README.md'), 'utf8');
  const m = /<!-- sdk-node-example -->\n```js\n([\s\S]*?)\n```/.exec(readme);
  assert.ok(m, 'README.md has a <!-- sdk-node-example --> js block');
  return m[1];
}

test('README "Node" example runs with client credentials from the environment', async () => {
  const app = await stack.createApp();
  // Inside the package directory, so that '@caseforge/sdk' resolves to this package (self-reference).
  const file = join(sdkDir, `.readme-example-${process.pid}.mjs`);
  writeFileSync(file, example());
  try {
    const { CASEFORGE_API_KEY, ...env } = process.env;
    const { stdout } = await promisify(execFile)(process.execPath, [file], {
      cwd: sdkDir,
      env: {
        ...env,
        CASEFORGE_CLIENT_ID: app.client_id,
        CASEFORGE_CLIENT_SECRET: app.client_secret,
        CASEFORGE_BASE_URL: stack.baseURL,
        CASEFORGE_AUTH_URL: stack.authURL,
      },
    });
    assert.match(stdout, /^CF-\d{4}-\d+ in_review$/m);
    assert.match(stdout, /Structuring at branch 14/);
    assert.match(stdout, /changed since it was read: precondition_failed \S+/);
  } finally {
    rmSync(file, { force: true });
  }
});
