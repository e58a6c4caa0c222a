// Starts the release binaries (auth-server, resource-api) on SQLite in a temp dir on free ports,
// as scripts/conformance.sh does, and makes credentials through the admin API.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const sdkDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const repoDir = join(sdkDir, '..', '..');
export const binDir = process.env.CASEFORGE_BIN_DIR || join(repoDir, 'target', 'release');

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitReady(url, proc, logFile) {
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) break;
    try {
      const r = await fetch(url);
      if (r.status === 200) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  let log = '';
  try {
    log = readFileSync(logFile, 'utf8').slice(-4000);
  } catch {}
  throw new Error(`not ready: ${url}\n${log}`);
}

/** `extraEnv`: more variables for both services (e.g. `DPOP_NONCE_KEY`). */
export async function startStack(extraEnv = {}) {
  for (const bin of ['auth-server', 'resource-api']) {
    if (!existsSync(join(binDir, bin))) throw new Error(`${join(binDir, bin)} is missing: build the release binaries or set CASEFORGE_BIN_DIR`);
  }
  const work = mkdtempSync(join(tmpdir(), 'caseforge-sdk-node-'));
  const [authPort, apiPort] = [await freePort(), await freePort()];
  const authURL = `http://127.0.0.1:${authPort}`;
  const baseURL = `http://127.0.0.1:${apiPort}`;
  const adminToken = `sdk-node-${randomBytes(30).toString('hex')}`;
  const { CASEFORGE_API_KEY, CASEFORGE_CLIENT_ID, CASEFORGE_CLIENT_SECRET, CASEFORGE_BASE_URL, CASEFORGE_AUTH_URL, ...parentEnv } = process.env;
  const common = { ...parentEnv, DATABASE_URL: `sqlite://${work}/caseforge.db`, RUST_LOG: 'warn', AUTH_ISSUER: authURL, CREDENTIAL_POLL_SECS: '1', ...extraEnv };
  const procs = [];
  const { openSync } = await import('node:fs');
  const auth = spawn(join(binDir, 'auth-server'), ['serve'], {
    cwd: work,
    env: { ...common, SIGNING_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), ADMIN_TOKEN: adminToken, AUTH_BIND: `127.0.0.1:${authPort}` },
    stdio: ['ignore', openSync(join(work, 'auth.log'), 'w'), openSync(join(work, 'auth.err.log'), 'w')],
  });
  procs.push(auth);
  await waitReady(`${authURL}/readyz`, auth, join(work, 'auth.err.log'));
  const api = spawn(join(binDir, 'resource-api'), [], {
    cwd: work,
    // Webhooks (contract §8): a sealing key, and delivery to the tests' local receivers.
    env: {
      ...common,
      API_BIND: `127.0.0.1:${apiPort}`,
      API_PUBLIC_URL: baseURL,
      WEBHOOK_SECRET_KEY: randomBytes(32).toString('base64'),
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      WEBHOOK_TIMEOUT_SECS: '5',
    },
    stdio: ['ignore', openSync(join(work, 'api.log'), 'w'), openSync(join(work, 'api.err.log'), 'w')],
  });
  procs.push(api);
  await waitReady(`${baseURL}/readyz`, api, join(work, 'api.err.log'));

  async function admin(method, path, body) {
    const r = await fetch(authURL + path, {
      method,
      headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`admin ${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }
  const metadata = await (await fetch(`${authURL}/.well-known/oauth-authorization-server`)).json();
  const allScopes = metadata.scopes_supported;
  let n = 0;
  return {
    work,
    authURL,
    baseURL,
    allScopes,
    admin,
    /** A sandbox application: `{ client_id, client_secret, … }`. */
    createApp: ({ tier = 'unlimited', scopes = allScopes } = {}) =>
      admin('POST', '/admin/applications', { name: `sdk-node-${++n}`, scopes, environment: 'sandbox', tier }),
    /** A `private_key_jwt` application (contract §7): public keys, no secret. */
    createKeyApp: (keys, { dpopBound = false, scopes = allScopes } = {}) =>
      admin('POST', '/admin/applications', {
        name: `sdk-node-${++n}`,
        scopes,
        environment: 'sandbox',
        tier: 'unlimited',
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys },
        dpop_bound_access_tokens: dpopBound,
      }),
    setKeys: (clientId, keys) => admin('PATCH', `/admin/applications/${clientId}`, { jwks: { keys } }),
    /** A sandbox API key: `{ id, key, … }`. */
    createKey: ({ tier = 'unlimited', scopes = allScopes } = {}) =>
      admin('POST', '/admin/api-keys', { name: `sdk-node-${++n}`, scopes, environment: 'sandbox', tier }),
    async stop() {
      for (const p of procs) p.kill('SIGTERM');
      await Promise.all(procs.map((p) => (p.exitCode !== null ? null : new Promise((r) => p.once('exit', r)))));
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** A fetch that records every request (url, method, headers) before sending it. */
export function recordingFetch() {
  const calls = [];
  const f = async (url, init = {}) => {
    calls.push({ url: String(url), method: init.method ?? 'GET', headers: { ...(init.headers ?? {}) } });
    return fetch(url, init);
  };
  f.calls = calls;
  f.tokenFetches = () => calls.filter((c) => c.url.endsWith('/oauth/token')).length;
  return f;
}
