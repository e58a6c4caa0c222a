// The SDK against the real services (release binaries on SQLite), issue 23 §4.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import util from 'node:util';

import CaseForge, { AuthenticationError, PreconditionFailedError, RateLimitError, ConflictError } from '@caseforge/sdk';
import { recordingFetch, startStack } from './helpers/stack.mjs';

let stack;
let key; // an unlimited API key with every scope
const ENV_NAMES = ['CASEFORGE_API_KEY', 'CASEFORGE_CLIENT_ID', 'CASEFORGE_CLIENT_SECRET', 'CASEFORGE_BASE_URL', 'CASEFORGE_AUTH_URL'];

/** Runs `fn` with exactly these CASEFORGE_* variables set. */
async function withEnv(vars, fn) {
  const saved = Object.fromEntries(ENV_NAMES.map((n) => [n, process.env[n]]));
  for (const n of ENV_NAMES) delete process.env[n];
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const n of ENV_NAMES) {
      if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
  }
}

const apiKeyClient = (opts = {}) => new CaseForge({ apiKey: key.key, baseURL: stack.baseURL, authURL: stack.authURL, ...opts });

before(async () => {
  stack = await startStack();
  key = await stack.createKey();
});
after(async () => {
  await stack?.stop();
});

describe('credentials', () => {
  test('API key from the environment', async () => {
    await withEnv({ CASEFORGE_API_KEY: key.key, CASEFORGE_BASE_URL: stack.baseURL }, async () => {
      const client = new CaseForge();
      assert.equal(client.credentialType, 'api_key');
      const me = await client.me();
      assert.equal(me.principal_type, 'api_key');
      assert.equal(me.id, key.id);
    });
  });

  test('client credentials from the environment; as options they win over the environment API key', async () => {
    const app = await stack.createApp();
    await withEnv(
      { CASEFORGE_CLIENT_ID: app.client_id, CASEFORGE_CLIENT_SECRET: app.client_secret, CASEFORGE_BASE_URL: stack.baseURL, CASEFORGE_AUTH_URL: stack.authURL },
      async () => {
        const me = await new CaseForge().me();
        assert.equal(me.principal_type, 'application');
        assert.equal(me.id, app.client_id);
      },
    );
    await withEnv({ CASEFORGE_API_KEY: key.key, CASEFORGE_BASE_URL: stack.baseURL, CASEFORGE_AUTH_URL: stack.authURL }, async () => {
      const client = new CaseForge({ clientId: app.client_id, clientSecret: app.client_secret, scopes: ['cases:read'] });
      const me = await client.me();
      assert.equal(me.principal_type, 'application');
      assert.deepEqual(me.scopes, ['cases:read']);
    });
  });

  test('client credentials: exactly one token fetch over many concurrent calls', async () => {
    const app = await stack.createApp();
    const f = recordingFetch();
    const client = new CaseForge({ clientId: app.client_id, clientSecret: app.client_secret, baseURL: stack.baseURL, authURL: stack.authURL, fetch: f });
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? client.me() : client.cases.list({ page_size: 1 }))));
    assert.equal(results.length, 40);
    assert.equal(f.tokenFetches(), 1);
    assert.equal(f.calls.filter((c) => c.url.includes('/.well-known/oauth-authorization-server')).length, 1);
    // And the cached token serves later calls.
    await Promise.all([client.me(), client.me(), client.alerts.list()]);
    assert.equal(f.tokenFetches(), 1);
    // Client credentials are sent with HTTP Basic, never in a URL.
    const tokenCall = f.calls.find((c) => c.url.endsWith('/oauth/token'));
    assert.match(tokenCall.headers.Authorization, /^Basic /);
  });

  test('revoke-tokens: the next calls renew the token once and succeed', async () => {
    const app = await stack.createApp();
    const f = recordingFetch();
    const client = new CaseForge({ clientId: app.client_id, clientSecret: app.client_secret, baseURL: stack.baseURL, authURL: stack.authURL, fetch: f });
    await client.me();
    assert.equal(f.tokenFetches(), 1);
    const oldAuth = f.calls.find((c) => c.url.endsWith('/v2/me')).headers.Authorization;
    await stack.admin('POST', `/admin/applications/${app.client_id}/revoke-tokens`);
    // Wait until the resource API refuses the old token (the revocation bound: one credential poll).
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await fetch(`${stack.baseURL}/v2/me`, { headers: { Authorization: oldAuth } });
      if (r.status === 401) break;
      assert.ok(Date.now() < deadline, 'the old token was never refused');
      await new Promise((r) => setTimeout(r, 200));
    }
    // Ten calls at once: each is refused once, one new token serves them all.
    const all = await Promise.all(Array.from({ length: 10 }, () => client.me()));
    assert.ok(all.every((me) => me.id === app.client_id));
    assert.equal(f.tokenFetches(), 2);
    // Each request was sent twice: once with the old token (401), once with the new one.
    const meCalls = f.calls.filter((c) => c.url.endsWith('/v2/me')).slice(1);
    assert.equal(meCalls.length, 20);
    assert.equal(meCalls.filter((c) => c.headers.Authorization === oldAuth).length, 10);
    const renewed = new Set(meCalls.filter((c) => c.headers.Authorization !== oldAuth).map((c) => c.headers.Authorization));
    assert.equal(renewed.size, 1);
  });

  test('a wrong secret → AuthenticationError at once, the secret nowhere in it', async () => {
    const app = await stack.createApp();
    const f = recordingFetch();
    const secret = `${app.client_secret}x`;
    const client = new CaseForge({ clientId: app.client_id, clientSecret: secret, baseURL: stack.baseURL, authURL: stack.authURL, fetch: f, maxRetries: 3 });
    const err = await client.cases.list().then(
      () => assert.fail('expected an error'),
      (e) => e,
    );
    assert.ok(err instanceof AuthenticationError);
    assert.ok(err instanceof CaseForge.APIStatusError);
    assert.ok(err instanceof CaseForge.APIError);
    assert.equal(err.status, 401);
    assert.equal(err.code, 'invalid_client');
    assert.equal(f.tokenFetches(), 1, 'invalid_client is not retried');
    assert.equal(f.calls.filter((c) => c.url.includes('/v2/')).length, 0);
    for (const shown of [String(err), err.stack, util.inspect(err, { showHidden: true, depth: 10 }), JSON.stringify(err), util.inspect(client, { showHidden: true, depth: 10 }), JSON.stringify(client)]) {
      assert.ok(!String(shown).includes(secret), 'the secret leaked');
    }
  });
});

describe('lists', () => {
  test('a walk over > 100 rows while others insert: no row twice, none missed', async () => {
    const client = apiKeyClient();
    const assignee = `walk-${randomUUID()}`;
    const before = [];
    for (let i = 0; i < 130; i++) before.push((await client.cases.create({ title: `walk ${i}`, assignee })).id);
    const f = recordingFetch();
    const walker = apiKeyClient({ fetch: f });
    const seen = [];
    let inserted = 0;
    for await (const c of walker.cases.list({ assignee, page_size: 25 })) {
      seen.push(c.id);
      assert.equal(c.assignee, assignee);
      // Between pages (the next one is fetched only when the loop asks for its first row),
      // others insert rows of the same list.
      if (seen.length % 25 === 0) {
        await Promise.all(Array.from({ length: 6 }, (_, i) => client.cases.create({ title: `during ${seen.length}/${i}`, assignee })));
        inserted += 6;
      }
    }
    assert.ok(inserted >= 30);
    assert.equal(new Set(seen).size, seen.length, 'a row came twice');
    for (const id of before) assert.ok(seen.includes(id), `missed ${id}`);
    // Page 2 onwards: by cursor, with the filters and page_size, never `page`.
    const urls = f.calls.map((c) => new URL(c.url));
    assert.ok(urls.length >= 6);
    assert.ok(!urls[0].searchParams.has('cursor'));
    for (const u of urls.slice(1)) {
      assert.ok(u.searchParams.has('cursor'));
      assert.equal(u.searchParams.get('page_size'), '25');
      assert.equal(u.searchParams.get('assignee'), assignee);
      assert.ok(!u.searchParams.has('page'));
    }
  });

  test('await gives the first page; hasNextPage / getNextPage', async () => {
    const client = apiKeyClient();
    const assignee = `page-${randomUUID()}`;
    for (let i = 0; i < 5; i++) await client.cases.create({ title: `p ${i}`, assignee, priority: 'low' });
    const first = await client.cases.list({ assignee, page_size: 2, priority: 'low' });
    assert.equal(first.data.length, 2);
    assert.equal(first.pagination.total, 5);
    assert.ok(first.hasNextPage());
    const second = await first.getNextPage();
    assert.equal(second.data.length, 2);
    const third = await second.getNextPage();
    assert.equal(third.data.length, 1);
    assert.ok(!third.hasNextPage());
    const ids = [...first.data, ...second.data, ...third.data].map((c) => c.id);
    assert.equal(new Set(ids).size, 5);
  });
});

describe('retries and errors', () => {
  test('a basic-tier key: RateLimitError with maxRetries 0, success with retries', async () => {
    const basic = await stack.createKey({ tier: 'basic' });
    const noRetry = new CaseForge({ apiKey: basic.key, baseURL: stack.baseURL, maxRetries: 0 });
    let limited;
    for (let i = 0; i < 30 && !limited; i++) {
      try {
        await noRetry.me();
      } catch (e) {
        limited = e;
      }
    }
    assert.ok(limited instanceof RateLimitError, `expected RateLimitError, got ${limited}`);
    assert.equal(limited.status, 429);
    assert.equal(limited.code, 'rate_limited');
    assert.ok(limited.retryAfter > 0);
    // The bucket is empty now; with retries the SDK waits out Retry-After and succeeds.
    const f = recordingFetch();
    const retrying = new CaseForge({ apiKey: basic.key, baseURL: stack.baseURL, maxRetries: 5, fetch: f });
    const results = await Promise.all([retrying.me(), retrying.me(), retrying.me()]);
    assert.equal(results.length, 3);
    assert.ok(f.calls.length > 3, 'some calls were retried');
    // One X-Request-Id per call, the same on each of its retries.
    const ids = new Set(f.calls.map((c) => c.headers['X-Request-Id']));
    assert.equal(ids.size, 3);
  });

  test('a stale If-Match → PreconditionFailedError; the current one works', async () => {
    const f = recordingFetch();
    const client = apiKeyClient({ fetch: f });
    const c = await client.cases.create({ title: 'etag', priority: 'medium' });
    assert.match(c.etag, /^"\d+"$/);
    assert.ok(!Object.keys(c).includes('etag'), 'etag is not a field of the record');
    const updated = await client.cases.update(c.id, { priority: 'high' }, { ifMatch: c.etag });
    assert.equal(updated.priority, 'high');
    assert.notEqual(updated.etag, c.etag);
    const err = await client.cases.update(c.id, { priority: 'low' }, { ifMatch: c.etag }).catch((e) => e);
    assert.ok(err instanceof PreconditionFailedError);
    assert.ok(err instanceof CaseForge.PreconditionFailedError);
    assert.equal(err.status, 412);
    assert.equal(err.code, 'precondition_failed');
    // The server logged (and echoed) the SDK's own request id.
    assert.equal(err.requestId, f.calls.at(-1).headers['X-Request-Id']);
    assert.match(err.requestId, /^[0-9a-f-]{36}$/);
    assert.equal((await client.cases.retrieve(c.id)).priority, 'high');
  });

  test('a connection dropped after the create was sent: the retry makes one record', async () => {
    const upstream = new URL(stack.baseURL);
    let drops = 1;
    const posts = [];
    const proxy = net.createServer((client) => {
      const server = net.connect(Number(upstream.port), upstream.hostname);
      let dropThis = false;
      client.on('data', (chunk) => {
        const text = chunk.toString('latin1');
        if (text.startsWith('POST /v2/cases ')) {
          posts.push(/idempotency-key: ([^\r\n]+)/i.exec(text)?.[1]);
          if (drops > 0) {
            drops--;
            dropThis = true;
          }
        }
        server.write(chunk);
      });
      server.on('data', (chunk) => {
        // The server has done the work and answered; the client never hears it.
        if (dropThis) {
          client.destroy();
          server.destroy();
        } else client.write(chunk);
      });
      client.on('error', () => server.destroy());
      server.on('error', () => client.destroy());
      client.on('close', () => server.destroy());
      server.on('close', () => client.destroy());
    });
    await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const viaProxy = apiKeyClient({ baseURL: `http://127.0.0.1:${proxy.address().port}`, maxRetries: 2 });
      const assignee = `drop-${randomUUID()}`;
      const created = await viaProxy.cases.create({ title: 'dropped once', assignee });
      assert.equal(created.assignee, assignee);
      assert.equal(posts.length, 2, 'the create was sent twice');
      assert.ok(posts[0] && posts[0] === posts[1], 'with the same Idempotency-Key');
      const page = await apiKeyClient().cases.list({ assignee });
      assert.equal(page.data.length, 1, 'one record');
      assert.equal(page.data[0].id, created.id);
    } finally {
      proxy.close();
    }
  });

  test('a close whose answer was lost is retried with its key: 200, the case closed once', async () => {
    const upstream = new URL(stack.baseURL);
    const c = await apiKeyClient().cases.create({ title: `close dropped ${randomUUID()}` });
    let drops = 1;
    const closes = [];
    const proxy = net.createServer((client) => {
      const server = net.connect(Number(upstream.port), upstream.hostname);
      let dropThis = false;
      client.on('data', (chunk) => {
        const text = chunk.toString('latin1');
        if (text.startsWith(`POST /v2/cases/${c.id}/close `)) {
          closes.push(/idempotency-key: ([^\r\n]+)/i.exec(text)?.[1]);
          if (drops > 0) {
            drops--;
            dropThis = true;
          }
        }
        server.write(chunk);
      });
      server.on('data', (chunk) => {
        // The server has closed the case and answered; the client never hears it.
        if (dropThis) {
          client.destroy();
          server.destroy();
        } else client.write(chunk);
      });
      client.on('error', () => server.destroy());
      server.on('error', () => client.destroy());
      client.on('close', () => server.destroy());
      server.on('close', () => client.destroy());
    });
    await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const viaProxy = apiKeyClient({ baseURL: `http://127.0.0.1:${proxy.address().port}`, maxRetries: 2 });
      const { data: closed, response } = await viaProxy.cases.close(c.id, { resolution: 'Reported' }, { ifMatch: c.etag }).withResponse();
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('idempotent-replayed'), 'true');
      assert.equal(closed.id, c.id);
      assert.equal(closed.status, 'closed');
      assert.equal(closed.resolution, 'Reported');
      assert.equal(closes.length, 2, 'the close was sent twice');
      assert.ok(closes[0] && closes[0] === closes[1], 'with the same Idempotency-Key');
      const direct = apiKeyClient();
      assert.equal((await direct.cases.retrieve(c.id)).status, 'closed');
      const actions = [];
      for await (const e of direct.cases.history(c.id)) actions.push(e.action);
      assert.equal(actions.filter((a) => a === 'closed').length, 1, `closed once: ${actions}`);
    } finally {
      proxy.close();
    }
  });

  test('a closed case cannot be closed again: ConflictError (code conflict), not retried', async () => {
    const f = recordingFetch();
    const client = apiKeyClient({ fetch: f });
    const c = await client.cases.create({ title: 'close twice' });
    const closed = await client.cases.close(c.id, { resolution: 'no issue' }, { ifMatch: c.etag });
    assert.equal(closed.status, 'closed');
    const err = await client.cases.close(c.id, { resolution: 'again' }).catch((e) => e);
    assert.ok(err instanceof ConflictError);
    assert.equal(err.code, 'conflict');
    assert.equal(f.calls.filter((x) => x.url.endsWith('/close')).length, 2);
  });
});

describe('every /v2 operation', () => {
  test('cases, sars, watchlist, subjects, transactions, alerts, me, api key validation', async () => {
    const client = apiKeyClient();
    const subject = await client.subjects.create({ subject_type: 'person', name: 'Ana Pereira', country: 'PT' });
    assert.ok(subject.etag);
    const s2 = await client.subjects.update(subject.id, { country: 'ES' }, { ifMatch: subject.etag });
    assert.equal(s2.country, 'ES');
    assert.equal((await client.subjects.retrieve(subject.id)).id, subject.id);
    assert.ok((await client.subjects.list()).data.length >= 1);

    const c = await client.cases.create({ title: 'all ops', priority: 'critical', subject_ids: [subject.id] });
    const assigned = await client.cases.assign(c.id, { assignee: 'inv-1' }, { ifMatch: c.etag });
    assert.equal(assigned.assignee, 'inv-1');
    const history = [];
    for await (const e of client.cases.history(c.id)) history.push(e.action);
    assert.ok(history.length >= 2);

    const sar = await client.sars.create({ case_id: c.id, narrative: 'n', amount: '125000.50', currency: 'EUR', subject_ids: [subject.id] });
    assert.equal(sar.status, 'draft');
    const sar2 = await client.sars.update(sar.id, { narrative: 'longer' }, { ifMatch: sar.etag });
    const submitted = await client.sars.submit(sar.id, { ifMatch: sar2.etag });
    assert.equal(submitted.status, 'submitted');
    assert.equal((await client.sars.retrieve(sar.id)).status, 'submitted');
    assert.ok((await client.sars.list()).data.some((x) => x.id === sar.id));

    const entry = await client.watchlist.create({ name: 'Viktor Sokolov', entry_type: 'person', list_source: 'test', reason: 'r' });
    const entry2 = await client.watchlist.update(entry.id, { aliases: ['V. Sokolov'] }, { ifMatch: entry.etag });
    assert.deepEqual(entry2.aliases, ['V. Sokolov']);
    const screened = await client.watchlist.screen({ name: 'viktor sokolow' });
    assert.ok(screened.matches.some((m) => m.entry.id === entry.id));
    assert.ok((await client.watchlist.list()).data.length >= 1);
    await client.watchlist.delete(entry.id, { ifMatch: entry2.etag });
    await assert.rejects(client.watchlist.retrieve(entry.id), CaseForge.NotFoundError);

    const tx = await client.transactions.list({ page_size: 5 });
    assert.ok(Array.isArray(tx.data));
    const alerts = await client.alerts.list({ page_size: 5 });
    assert.ok(Array.isArray(alerts.data));
    const v = await client.apiKeys.validate();
    assert.equal(v.valid, true);
    const { data, response, requestId } = await client.me().withResponse();
    assert.equal(data.id, key.id);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.ok(requestId);
    const raw = await client.cases.retrieve(c.id).asResponse();
    assert.equal(raw.status, 200);
    assert.ok(raw.headers.get('etag'));
  });
});
