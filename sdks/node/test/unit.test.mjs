// Behaviour that needs no server: configuration, retries, idempotency keys, token renewal,
// pages — against a scripted fetch.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import util from 'node:util';

import CaseForge, {
  APIConnectionError,
  APITimeoutError,
  APIError,
  CaseForgeError,
  ConflictError,
  InternalServerError,
  RateLimitError,
  NotFoundError,
} from '@caseforge/sdk';

const BASE = 'http://api.test';
const AUTH = 'http://auth.test';

/** A fetch answering from `handler(call)`; records every call. */
function scripted(handler) {
  const calls = [];
  const f = async (url, init = {}) => {
    const call = { url: new URL(String(url)), method: init.method ?? 'GET', headers: { ...init.headers }, body: init.body };
    calls.push(call);
    const out = await handler(call, calls);
    if (out instanceof Error) throw out;
    if (out instanceof Response) return out;
    const { status = 200, body, headers = {} } = out;
    return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
  };
  f.calls = calls;
  return f;
}

const CASE = { id: 'case_1', reference: 'CF-1', title: 't', description: '', status: 'open', priority: 'low', subject_ids: [], created_at: 'x', updated_at: 'x' };
const apiClient = (fetch, opts = {}) => new CaseForge({ apiKey: 'cf_sand_SECRETKEY', baseURL: BASE, fetch, ...opts });

function clearEnv() {
  for (const n of ['CASEFORGE_API_KEY', 'CASEFORGE_CLIENT_ID', 'CASEFORGE_CLIENT_SECRET', 'CASEFORGE_BASE_URL', 'CASEFORGE_AUTH_URL']) delete process.env[n];
}

describe('configuration', () => {
  test('no credentials → CaseForgeError naming the variables', () => {
    clearEnv();
    assert.throws(() => new CaseForge(), (e) => e instanceof CaseForgeError && /CASEFORGE_API_KEY/.test(e.message));
  });

  test('precedence: options, then CASEFORGE_API_KEY, then client id/secret', () => {
    clearEnv();
    process.env.CASEFORGE_API_KEY = 'cf_sand_env';
    process.env.CASEFORGE_CLIENT_ID = 'app_env';
    process.env.CASEFORGE_CLIENT_SECRET = 'cfsec_env';
    process.env.CASEFORGE_BASE_URL = 'http://env.test/';
    try {
      const fromEnv = new CaseForge();
      assert.equal(fromEnv.credentialType, 'api_key');
      assert.equal(fromEnv.baseURL, 'http://env.test');
      assert.equal(new CaseForge({ clientId: 'app_x', clientSecret: 's' }).credentialType, 'oauth');
      assert.equal(new CaseForge({ baseURL: 'http://opt.test' }).baseURL, 'http://opt.test');
      delete process.env.CASEFORGE_API_KEY;
      assert.equal(new CaseForge().credentialType, 'oauth');
      assert.throws(() => new CaseForge({ apiKey: 'k', clientId: 'c', clientSecret: 's' }), CaseForgeError);
    } finally {
      clearEnv();
    }
  });

  test('the API key and the client secret never show in inspect or JSON', () => {
    const a = new CaseForge({ apiKey: 'cf_sand_TOPSECRET', baseURL: BASE });
    const b = new CaseForge({ clientId: 'app_1', clientSecret: 'cfsec_TOPSECRET', baseURL: BASE, authURL: AUTH });
    for (const c of [a, b]) {
      for (const s of [util.inspect(c, { showHidden: true, depth: 20 }), JSON.stringify(c), String(c)]) {
        assert.ok(!s.includes('TOPSECRET'), s);
      }
    }
  });
});

describe('retries', () => {
  test('GET: 503 then 200 — retried, same X-Request-Id', async () => {
    const f = scripted((_, calls) => (calls.length === 1 ? { status: 503, body: { error: 'service_unavailable', error_description: 'x' }, headers: { 'retry-after': '0' } } : { body: CASE, headers: { etag: '"1"' } }));
    const c = await apiClient(f).cases.retrieve('case_1');
    assert.equal(c.id, 'case_1');
    assert.equal(c.etag, '"1"');
    assert.equal(f.calls.length, 2);
    assert.equal(f.calls[0].headers['X-Request-Id'], f.calls[1].headers['X-Request-Id']);
    assert.equal(f.calls[0].headers['X-API-Key'], 'cf_sand_SECRETKEY');
  });

  test('GET: always 500 → InternalServerError after maxRetries + 1 attempts', async () => {
    const f = scripted(() => ({ status: 500, body: { error: 'internal', error_description: 'x' }, headers: { 'retry-after': '0' } }));
    await assert.rejects(apiClient(f, { maxRetries: 3 }).me(), InternalServerError);
    assert.equal(f.calls.length, 4);
  });

  test('connection errors are retried for GET; APIConnectionError at the end', async () => {
    const f = scripted(() => new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }));
    const err = await apiClient(f, { maxRetries: 1 }).me().catch((e) => e);
    assert.ok(err instanceof APIConnectionError);
    assert.ok(err instanceof APIError);
    assert.ok(err.requestId);
    assert.equal(f.calls.length, 2);
  });

  test('a timeout → APITimeoutError (a connection error)', async () => {
    const f = (url, init) => new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
    const err = await apiClient(f, { maxRetries: 0, timeout: 50 }).me().catch((e) => e);
    assert.ok(err instanceof APITimeoutError);
    assert.ok(err instanceof APIConnectionError);
  });

  test('create: one Idempotency-Key per call, reused on each retry; a new one for the next call', async () => {
    const f = scripted((call, calls) => (calls.length % 2 === 1 ? new TypeError('fetch failed') : { status: 201, body: CASE, headers: { etag: '"1"' } }));
    const client = apiClient(f);
    await client.cases.create({ title: 't' });
    await client.cases.create({ title: 't' });
    const keys = f.calls.map((c) => c.headers['Idempotency-Key']);
    assert.equal(keys.length, 4);
    assert.ok(keys[0] && keys[0] === keys[1]);
    assert.ok(keys[2] && keys[2] === keys[3]);
    assert.notEqual(keys[0], keys[2]);
    await client.cases.create({ title: 't' }, { idempotencyKey: 'mine-1' });
    assert.equal(f.calls.at(-1).headers['Idempotency-Key'], 'mine-1');
  });

  test('transitions and the watchlist delete carry an Idempotency-Key and are retried; PATCH is not', async () => {
    let f = scripted(() => ({ status: 503, body: { error: 'service_unavailable', error_description: 'x' }, headers: { 'retry-after': '0' } }));
    await assert.rejects(apiClient(f).cases.update('case_1', { priority: 'high' }), InternalServerError);
    assert.equal(f.calls.length, 1);
    assert.equal(f.calls[0].headers['Idempotency-Key'], undefined);
    f = scripted(() => new TypeError('fetch failed'));
    await assert.rejects(apiClient(f).watchlist.delete('e_1'), APIConnectionError);
    assert.equal(f.calls.length, 3);
    assert.ok(f.calls[0].headers['Idempotency-Key']);
    assert.equal(new Set(f.calls.map((c) => c.headers['Idempotency-Key'])).size, 1);
    f = scripted(() => ({ status: 503, body: { error: 'service_unavailable', error_description: 'x' }, headers: { 'retry-after': '0' } }));
    await assert.rejects(apiClient(f).cases.close('case_1', { resolution: 'r' }), InternalServerError);
    assert.equal(f.calls.length, 3);
    assert.ok(f.calls[0].headers['Idempotency-Key']);
    assert.equal(new Set(f.calls.map((c) => c.headers['Idempotency-Key'])).size, 1);
  });

  test('409 busy is retried, 409 conflict is not', async () => {
    let f = scripted((_, calls) => (calls.length === 1 ? { status: 409, body: { error: 'busy', error_description: 'retry' }, headers: { 'retry-after': '0' } } : { body: CASE }));
    assert.equal((await apiClient(f).cases.close('case_1', { resolution: 'r' })).id, 'case_1');
    assert.equal(f.calls.length, 2);
    f = scripted(() => ({ status: 409, body: { error: 'conflict', error_description: 'closed' } }));
    const err = await apiClient(f).cases.close('case_1', { resolution: 'r' }).catch((e) => e);
    assert.ok(err instanceof ConflictError);
    assert.equal(err.code, 'conflict');
    assert.equal(err.description, 'closed');
    assert.equal(f.calls.length, 1);
  });

  test('Retry-After is honoured', async () => {
    const f = scripted((_, calls) => (calls.length === 1 ? { status: 429, body: { error: 'rate_limited', error_description: 'slow down' }, headers: { 'retry-after': '1' } } : { body: CASE }));
    const started = Date.now();
    await apiClient(f).cases.retrieve('case_1');
    assert.ok(Date.now() - started >= 1000);
    const g = scripted(() => ({ status: 429, body: { error: 'rate_limited', error_description: 'x' }, headers: { 'retry-after': '7' } }));
    const err = await apiClient(g, { maxRetries: 0 }).me().catch((e) => e);
    assert.ok(err instanceof RateLimitError);
    assert.equal(err.retryAfter, 7);
    assert.equal(err.headers.get('retry-after'), '7');
  });

  test('an API key is never "renewed": a 401 is thrown as is', async () => {
    const f = scripted(() => ({ status: 401, body: { error: 'invalid_token', error_description: 'x' } }));
    await assert.rejects(apiClient(f).me(), CaseForge.AuthenticationError);
    assert.equal(f.calls.length, 1);
  });

  test('404 → NotFoundError with code, description, details, requestId from the server', async () => {
    const f = scripted(() => ({ status: 404, body: { error: 'not_found', error_description: 'No case.', details: { id: 'x' } }, headers: { 'x-request-id': 'srv-1' } }));
    const err = await apiClient(f).cases.retrieve('x').catch((e) => e);
    assert.ok(err instanceof NotFoundError);
    assert.deepEqual([err.status, err.code, err.description, err.details, err.requestId], [404, 'not_found', 'No case.', { id: 'x' }, 'srv-1']);
  });
});

describe('tokens', () => {
  function oauthServer({ expiresIn = 3600 } = {}) {
    let issued = 0;
    return scripted(async (call) => {
      if (call.url.pathname === '/.well-known/oauth-authorization-server') return { body: { issuer: AUTH, token_endpoint: `${AUTH}/oauth/token` } };
      if (call.url.pathname === '/oauth/token') {
        await new Promise((r) => setTimeout(r, 20));
        return { body: { access_token: `tok${++issued}`, token_type: 'Bearer', expires_in: expiresIn } };
      }
      return { body: { ok: call.headers.Authorization } };
    });
  }
  const tokenCalls = (f) => f.calls.filter((c) => c.url.pathname === '/oauth/token');

  test('renewed within 5 minutes of expiry, not before', async (t) => {
    const f = oauthServer({ expiresIn: 3600 });
    const client = new CaseForge({ clientId: 'app_1', clientSecret: 'cfsec_1', baseURL: BASE, authURL: AUTH, fetch: f, scopes: 'cases:read cases:write' });
    const realNow = Date.now;
    let offset = 0;
    t.after(() => {
      Date.now = realNow;
    });
    Date.now = () => realNow() + offset;
    assert.equal((await client.me()).ok, 'Bearer tok1');
    assert.equal(new URLSearchParams(tokenCalls(f)[0].body).get('scope'), 'cases:read cases:write');
    offset = 54 * 60 * 1000;
    assert.equal((await client.me()).ok, 'Bearer tok1');
    offset = 55 * 60 * 1000 + 1000;
    const all = await Promise.all([client.me(), client.me(), client.me()]);
    assert.deepEqual(all.map((x) => x.ok), ['Bearer tok2', 'Bearer tok2', 'Bearer tok2']);
    assert.equal(tokenCalls(f).length, 2);
  });

  test('metadata found under the issuer path (RFC 8414 §3)', async () => {
    const f = scripted((call) => {
      if (call.url.pathname === '/.well-known/oauth-authorization-server/tenant') return { body: { token_endpoint: `${AUTH}/tenant/token` } };
      if (call.url.pathname === '/tenant/token') return { body: { access_token: 't', expires_in: 3600 } };
      return { body: {} };
    });
    await new CaseForge({ clientId: 'a', clientSecret: 'b', baseURL: BASE, authURL: `${AUTH}/tenant`, fetch: f }).me();
    assert.deepEqual(f.calls.map((c) => c.url.pathname), ['/.well-known/oauth-authorization-server/tenant', '/tenant/token', '/v2/me']);
  });

  test('invalid_client as 400 is an AuthenticationError too, not retried', async () => {
    const f = scripted((call) => {
      if (call.url.pathname.startsWith('/.well-known')) return { body: { token_endpoint: `${AUTH}/oauth/token` } };
      return { status: 400, body: { error: 'invalid_client', error_description: 'Client authentication failed.' } };
    });
    const err = await new CaseForge({ clientId: 'a', clientSecret: 'SEKRIT', baseURL: BASE, authURL: AUTH, fetch: f }).me().catch((e) => e);
    assert.ok(err instanceof CaseForge.AuthenticationError);
    assert.equal(f.calls.length, 2);
    assert.ok(!util.inspect(err, { showHidden: true, depth: 10 }).includes('SEKRIT'));
  });
});

describe('pages', () => {
  test('next pages: filters and page_size resent, cursor added, page dropped', async () => {
    const f = scripted((call) => {
      const cursor = call.url.searchParams.get('cursor');
      const n = cursor ? Number(cursor) : 0;
      return { body: { data: [{ ...CASE, id: `c${n}` }], pagination: { page: 1, page_size: 1, total: 3, total_pages: 3, next_cursor: n < 2 ? String(n + 1) : null } } };
    });
    const ids = [];
    for await (const c of apiClient(f).cases.list({ status: 'open', page: 1 })) ids.push(c.id);
    assert.deepEqual(ids, ['c0', 'c1', 'c2']);
    assert.equal(f.calls[0].url.search, '?status=open&page=1');
    assert.equal(f.calls[1].url.search, '?status=open&page_size=1&cursor=1');
    assert.equal(f.calls[2].url.search, '?status=open&page_size=1&cursor=2');
  });
});

test('named exports are the classes on CaseForge', () => {
  assert.equal(CaseForge.NotFoundError, NotFoundError);
  assert.equal(CaseForge.RateLimitError, RateLimitError);
  assert.ok(new NotFoundError(404, {}, new Headers()) instanceof CaseForge.APIStatusError);
});
