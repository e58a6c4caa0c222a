// privateKey (RFC 7523 client assertions) and dpop (RFC 9449) against the real services; the
// second stack runs with DPOP_NONCE_KEY (server nonces on).
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import util from 'node:util';

import CaseForge, { AuthenticationError, BadRequestError, CaseForgeError } from '@caseforge/sdk';
import { startStack } from './helpers/stack.mjs';

let stack;
let nonceStack;

before(async () => {
  [stack, nonceStack] = await Promise.all([startStack(), startStack({ DPOP_NONCE_KEY: `sdk-node-nonce-${randomBytes(16).toString('hex')}` })]);
});
after(async () => {
  await Promise.all([stack?.stop(), nonceStack?.stop()]);
});

const decode = (part) => JSON.parse(Buffer.from(part, 'base64url').toString());
function jwt(token) {
  const [h, p, s] = token.split('.');
  return { header: decode(h), claims: decode(p), input: Buffer.from(`${h}.${p}`), sig: Buffer.from(s, 'base64url') };
}

/** A fetch that records each request's URL, method, headers, body, and the answer's status. */
function recorder() {
  const calls = [];
  const f = async (url, init = {}) => {
    const call = { url: String(url), path: new URL(String(url)).pathname, method: init.method ?? 'GET', headers: { ...(init.headers ?? {}) }, body: init.body };
    calls.push(call);
    const r = await fetch(url, init);
    call.status = r.status;
    return r;
  };
  f.calls = calls;
  return f;
}

function p256() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey;
}
const pem = (key) => key.export({ format: 'pem', type: 'pkcs8' });
const publicJWK = (key, kid) => {
  const { kty, crv, x, y, n, e } = createPublicKey(key).export({ format: 'jwk' });
  return Object.fromEntries(Object.entries({ kty, crv, x, y, n, e, kid }).filter(([, v]) => v !== undefined));
};

describe('privateKey', () => {
  test('a P-256 PEM gets a token (no secret sent) and calls /v2', async () => {
    const key = p256();
    const app = await stack.createKeyApp([publicJWK(key, 'k1')]);
    assert.equal(app.client_secret, undefined);
    const f = recorder();
    const client = new CaseForge({ clientId: app.client_id, privateKey: pem(key), keyId: 'k1', baseURL: stack.baseURL, authURL: stack.authURL, fetch: f });
    const me = await client.me();
    assert.equal(me.principal_type, 'application');
    assert.equal(me.id, app.client_id);
    const created = await client.cases.create({ title: 'signed, not shared' });
    assert.equal((await client.cases.retrieve(created.id)).title, 'signed, not shared');
    const tokenCall = f.calls.find((c) => c.path === '/oauth/token');
    assert.equal(tokenCall.headers.Authorization, undefined);
    const form = new URLSearchParams(tokenCall.body);
    assert.equal(form.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    const a = jwt(form.get('client_assertion'));
    assert.deepEqual(a.header, { alg: 'ES256', typ: 'JWT', kid: 'k1' });
    assert.equal(a.claims.iss, app.client_id);
    assert.equal(a.claims.sub, app.client_id);
    assert.equal(a.claims.aud, stack.authURL);
    assert.equal(a.claims.exp - a.claims.iat, 300);
    assert.ok(verify('sha256', a.input, { key: createPublicKey(key), dsaEncoding: 'ieee-p1363' }, a.sig));
    assert.ok(!util.inspect(client).includes('PRIVATE KEY'));
    assert.ok(!JSON.stringify(client).includes('PRIVATE KEY'));
  });

  test('an Ed25519 private JWK (its kid picks the key among two) and an RSA KeyObject', async () => {
    const { privateKey: ed } = generateKeyPairSync('ed25519');
    const jwk = { ...ed.export({ format: 'jwk' }), kid: 'ed-1' };
    const app = await stack.createKeyApp([publicJWK(p256(), 'other'), publicJWK(ed, 'ed-1')]);
    const client = new CaseForge({ clientId: app.client_id, privateKey: jwk, baseURL: stack.baseURL, authURL: stack.authURL });
    assert.equal((await client.me()).id, app.client_id);

    const { privateKey: rsa } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaApp = await stack.createKeyApp([publicJWK(rsa, 'r1')]);
    const f = recorder();
    const rsaClient = new CaseForge({ clientId: rsaApp.client_id, privateKey: rsa, baseURL: stack.baseURL, authURL: stack.authURL, fetch: f });
    assert.equal((await rsaClient.me()).id, rsaApp.client_id);
    assert.equal(jwt(new URLSearchParams(f.calls.find((c) => c.path === '/oauth/token').body).get('client_assertion')).header.alg, 'PS256');
  });

  test('a removed key is refused with an AuthenticationError', async () => {
    const [oldKey, newKey] = [p256(), p256()];
    const app = await stack.createKeyApp([publicJWK(oldKey, 'old'), publicJWK(newKey, 'new')]);
    const opts = { clientId: app.client_id, baseURL: stack.baseURL, authURL: stack.authURL, maxRetries: 0 };
    assert.equal((await new CaseForge({ ...opts, privateKey: oldKey, keyId: 'old' }).me()).id, app.client_id);
    await stack.setKeys(app.client_id, [publicJWK(newKey, 'new')]);
    let refused;
    for (let i = 0; i < 150 && !refused; i++) {
      try {
        await new CaseForge({ ...opts, privateKey: oldKey, keyId: 'old' }).me();
        await new Promise((r) => setTimeout(r, 100));
      } catch (err) {
        refused = err;
      }
    }
    assert.ok(refused instanceof AuthenticationError, String(refused));
    assert.equal(refused.status, 401);
    assert.equal(refused.code, 'invalid_client');
    assert.equal((await new CaseForge({ ...opts, privateKey: newKey, keyId: 'new' }).me()).id, app.client_id);
  });

  test('configuration errors', () => {
    const key = pem(p256());
    assert.throws(() => new CaseForge({ clientId: 'app_x', clientSecret: 's', privateKey: key }), /clientSecret or privateKey/);
    assert.throws(() => new CaseForge({ apiKey: 'cf_sand_x', dpop: true }), /API keys/);
    assert.throws(() => new CaseForge({ clientId: 'app_x', privateKey: generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey }), /P-256/);
    assert.throws(() => new CaseForge({ clientId: 'app_x', privateKey: publicJWK(p256(), 'k') }), /private part/);
    assert.throws(() => new CaseForge({ clientId: 'app_x', privateKey: '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----' }), CaseForgeError);
    assert.throws(() => new CaseForge({ clientId: 'app_x', privateKey: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey }), /2048/);
    assert.doesNotThrow(() => new CaseForge({ clientId: 'app_x', privateKey: createPrivateKey(key), dpop: true }));
  });
});

describe('dpop', () => {
  test('a DPoP token, and every /v2 call carries a new proof with ath', async () => {
    const key = p256();
    const app = await stack.createKeyApp([publicJWK(key, 'k1')]);
    const f = recorder();
    const client = new CaseForge({ clientId: app.client_id, privateKey: key, dpop: true, baseURL: stack.baseURL, authURL: stack.authURL, fetch: f });
    let c = await client.cases.create({ title: 'sender-constrained' });
    c = await client.cases.assign(c.id, { assignee: 'inv-1' }, { ifMatch: c.etag });
    const page = await client.cases.list({ assignee: 'inv-1', page_size: 5 });
    assert.deepEqual(page.data.map((x) => x.id), [c.id]);
    const tokenCalls = f.calls.filter((x) => x.path === '/oauth/token');
    assert.deepEqual(tokenCalls.map((x) => x.status), [200]);
    const tp = jwt(tokenCalls[0].headers.DPoP);
    assert.equal(tp.header.typ, 'dpop+jwt');
    assert.equal(tp.claims.htu, `${stack.authURL}/oauth/token`);
    const api = f.calls.filter((x) => x.path.startsWith('/v2/'));
    assert.equal(api.length, 3);
    const jtis = new Set([tp.claims.jti]);
    for (const call of api) {
      assert.match(call.headers.Authorization, /^DPoP /);
      const p = jwt(call.headers.DPoP);
      assert.deepEqual(p.header.jwk, tp.header.jwk);
      assert.equal(p.claims.htu, `${stack.baseURL}${call.path}`);
      assert.equal(p.claims.htm, call.method);
      assert.ok(p.claims.ath);
      jtis.add(p.claims.jti);
    }
    assert.equal(jtis.size, 4);
    // Copied and sent as a bearer token, the token is refused.
    const stolen = api[0].headers.Authorization.slice('DPoP '.length);
    await assert.rejects(new CaseForge({ apiKey: stolen, baseURL: stack.baseURL }).me(), AuthenticationError);
  });

  test('a dpop_bound_access_tokens application works only with dpop on', async () => {
    const key = p256();
    const app = await stack.createKeyApp([publicJWK(key, 'k1')], { dpopBound: true });
    const opts = { clientId: app.client_id, privateKey: key, baseURL: stack.baseURL, authURL: stack.authURL };
    await assert.rejects(new CaseForge(opts).me(), (err) => err instanceof BadRequestError && err.code === 'invalid_dpop_proof');
    assert.equal((await new CaseForge({ ...opts, dpop: true }).me()).id, app.client_id);
  });

  test('a client secret with dpop', async () => {
    const app = await stack.createApp();
    const f = recorder();
    const client = new CaseForge({ clientId: app.client_id, clientSecret: app.client_secret, dpop: true, baseURL: stack.baseURL, authURL: stack.authURL, fetch: f });
    assert.equal((await client.me()).id, app.client_id);
    assert.match(f.calls.at(-1).headers.Authorization, /^DPoP /);
  });

  test('server nonces: one retry at each server, then the nonce is remembered', async () => {
    const key = p256();
    const app = await nonceStack.createKeyApp([publicJWK(key, 'k1')], { dpopBound: true });
    const f = recorder();
    const client = new CaseForge({ clientId: app.client_id, privateKey: key, dpop: true, baseURL: nonceStack.baseURL, authURL: nonceStack.authURL, fetch: f });
    assert.equal((await client.me()).id, app.client_id);
    await client.cases.list({ page_size: 1 });
    await client.me();
    assert.deepEqual(
      f.calls.slice(1).map((c) => [c.path, c.status]),
      [
        ['/oauth/token', 400],
        ['/oauth/token', 200],
        ['/v2/me', 401],
        ['/v2/me', 200],
        ['/v2/cases', 200],
        ['/v2/me', 200],
      ],
    );
    const proofs = f.calls.filter((c) => c.headers.DPoP).map((c) => jwt(c.headers.DPoP).claims);
    assert.deepEqual(proofs.map((p) => 'nonce' in p), [false, true, false, true, true, true]);
    assert.equal(new Set(proofs.map((p) => p.jti)).size, proofs.length);
    // A new assertion on the retried token request, too.
    const assertions = f.calls.filter((c) => c.path === '/oauth/token').map((c) => jwt(new URLSearchParams(c.body).get('client_assertion')).claims.jti);
    assert.equal(new Set(assertions).size, 2);
  });
});

describe('retries (a fake server)', () => {
  test('each attempt signs a new assertion and a new proof', async () => {
    const calls = [];
    let apiCalls = 0;
    let tokenCalls = 0;
    const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
    const fake = async (url, init = {}) => {
      const path = new URL(String(url)).pathname;
      calls.push({ path, headers: { ...init.headers }, body: init.body });
      if (path === '/.well-known/oauth-authorization-server') return json(200, { issuer: 'http://auth', token_endpoint: 'http://auth/oauth/token' });
      if (path === '/oauth/token') {
        if (++tokenCalls === 1) return json(503, { error: 'service_unavailable', error_description: '.' });
        return json(200, { access_token: 'tok', token_type: 'DPoP', expires_in: 3600 });
      }
      if (++apiCalls === 1) return json(503, { error: 'service_unavailable', error_description: '.' });
      return json(200, { principal_type: 'application', id: 'app_x', environment: 'sandbox', scopes: [], tier: 'standard' });
    };
    const client = new CaseForge({ clientId: 'app_x', privateKey: p256(), dpop: true, baseURL: 'http://api', authURL: 'http://auth', fetch: fake });
    assert.equal((await client.me()).id, 'app_x');
    const tokens = calls.filter((c) => c.path === '/oauth/token');
    assert.equal(tokens.length, 2);
    assert.notEqual(jwt(new URLSearchParams(tokens[0].body).get('client_assertion')).claims.jti, jwt(new URLSearchParams(tokens[1].body).get('client_assertion')).claims.jti);
    const proofs = calls.filter((c) => c.headers.DPoP).map((c) => jwt(c.headers.DPoP).claims.jti);
    assert.equal(proofs.length, 4);
    assert.equal(new Set(proofs).size, 4);
  });
});

test('README private_key_jwt + DPoP example runs as written', async () => {
  const { execFile } = await import('node:child_process');
  const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { promisify } = await import('node:util');
  const { repoDir, sdkDir } = await import('./helpers/stack.mjs');
  const m = /<!-- sdk-node-keys-example -->\n```js\n([\s\S]*?)\n```/.exec(readFileSync(join(repoDir, 'README.md'), 'utf8'));
  assert.ok(m, 'README.md has a <!-- sdk-node-keys-example --> js block');
  const key = p256();
  const app = await stack.createKeyApp([publicJWK(key, 'k1')], { dpopBound: true });
  // The script inside the package (so '@caseforge/sdk' resolves to it), the key in a temp dir (its cwd).
  const dir = mkdtempSync(join(sdkDir, '.readme-keys-'));
  const file = join(dir, 'example.mjs');
  writeFileSync(file, m[1]);
  writeFileSync(join(dir, 'client-key.pem'), pem(key));
  try {
    const { CASEFORGE_API_KEY, CASEFORGE_CLIENT_SECRET, ...env } = process.env;
    const { stdout } = await promisify(execFile)(process.execPath, [file], {
      cwd: dir,
      env: { ...env, KEY_CLIENT_ID: app.client_id, CASEFORGE_BASE_URL: stack.baseURL, CASEFORGE_AUTH_URL: stack.authURL },
    });
    assert.match(stdout, /page_size: 20/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
