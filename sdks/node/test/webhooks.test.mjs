// Webhooks (contract §8): `verifyWebhook` on the Standard Webhooks example, the resource's paths
// against a scripted fetch, and the whole round trip against the real services (a delivery to a
// local receiver, verified).
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import CaseForge, { CaseForgeError, NotFoundError, PreconditionFailedError, signWebhook, verifyWebhook, WebhookVerificationError } from '@caseforge/sdk';
import { startStack } from './helpers/stack.mjs';

// The example of the Standard Webhooks specification (the Python SDK's test has the same).
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const BODY = '{"test": 2432232314}';
const HEADERS = {
  'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  'webhook-timestamp': '1614265330',
  'webhook-signature': 'v1,bm9ldHRoaXNvbmU= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const at = (seconds) => new Date(seconds * 1000);
const refused = (e) => e instanceof WebhookVerificationError && e instanceof CaseForgeError && e.name === 'WebhookVerificationError';

describe('verifyWebhook', () => {
  test('the Standard Webhooks example verifies; sign gives its signature', () => {
    assert.equal(signWebhook(SECRET, HEADERS['webhook-id'], 1614265330, BODY), 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    assert.deepEqual(verifyWebhook(BODY, HEADERS, SECRET, { now: at(1614265330 + 10) }), { test: 2432232314 });
    // Bytes, fetch Headers and upper-case names are accepted too.
    assert.deepEqual(verifyWebhook(Buffer.from(BODY), new Headers(HEADERS), SECRET, { now: at(1614265330) }), { test: 2432232314 });
    const upper = Object.fromEntries(Object.entries(HEADERS).map(([k, v]) => [k.toUpperCase(), v]));
    assert.deepEqual(verifyWebhook(new TextEncoder().encode(BODY), upper, SECRET, { now: at(1614265330) }), { test: 2432232314 });
  });

  test('too old, too new, altered, another secret, missing or malformed headers are refused', () => {
    assert.throws(() => verifyWebhook(BODY, HEADERS, SECRET, { now: at(1614265330 + 301) }), refused);
    assert.throws(() => verifyWebhook(BODY, HEADERS, SECRET, { now: at(1614265330 - 301) }), refused);
    assert.deepEqual(verifyWebhook(BODY, HEADERS, SECRET, { now: at(1614265330 + 900), tolerance: 1000 }), { test: 2432232314 });
    assert.throws(() => verifyWebhook('{"test": 1}', HEADERS, SECRET, { now: at(1614265330) }), refused);
    assert.throws(() => verifyWebhook(BODY, HEADERS, 'whsec_' + 'QUJD'.repeat(8), { now: at(1614265330) }), refused);
    assert.throws(() => verifyWebhook(BODY, HEADERS, 'whsec_not base64!', { now: at(1614265330) }), refused);
    for (const name of Object.keys(HEADERS)) {
      const { [name]: _, ...rest } = HEADERS;
      assert.throws(() => verifyWebhook(BODY, rest, SECRET, { now: at(1614265330) }), (e) => refused(e) && e.message.includes(name));
    }
    assert.throws(() => verifyWebhook(BODY, { ...HEADERS, 'webhook-timestamp': '16142653x0' }, SECRET, { now: at(1614265330) }), refused);
    assert.throws(() => verifyWebhook(BODY, { ...HEADERS, 'webhook-signature': 'v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' }, SECRET, { now: at(1614265330) }), refused);
  });
});

describe('client.webhookEndpoints (scripted)', () => {
  test('paths, methods, bodies, If-Match and Idempotency-Key', async () => {
    const now = '2026-01-01T00:00:00Z';
    const endpoint = { id: 'whe_1', url: 'https://example.com/hook', events: ['case.closed'], description: '', enabled: true, created_at: now, updated_at: now, secret: 'whsec_c2VjcmV0' };
    const delivery = { id: 'whd_1', endpoint_id: 'whe_1', event_id: 'evt_1', event_type: 'case.closed', status: 'pending', attempts: 1, created_at: now, updated_at: now, attempt_log: [{ at: now, response_status: 500, duration_ms: 3 }] };
    const calls = [];
    const fetch = async (url, init = {}) => {
      const u = new URL(String(url));
      calls.push({ method: init.method ?? 'GET', path: u.pathname, headers: { ...init.headers }, body: init.body });
      const json = (status, body, headers = {}) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
      if (u.pathname.endsWith('/retry')) return json(202, delivery);
      if (u.pathname.endsWith('/deliveries')) return json(200, { data: [delivery], pagination: { page: 1, page_size: 20, total: 1, total_pages: 1, next_cursor: null } });
      if (init.method === 'DELETE') return new Response(null, { status: 204 });
      return json(init.method === 'POST' ? 201 : 200, endpoint, { etag: '"1"' });
    };
    const client = new CaseForge({ apiKey: 'cf_sand_x', baseURL: 'http://api.test', fetch });
    const created = await client.webhookEndpoints.create({ url: endpoint.url, events: ['case.closed'] });
    assert.equal(created.secret, 'whsec_c2VjcmV0');
    assert.equal(created.etag, '"1"');
    await client.webhookEndpoints.update('whe_1', { enabled: true }, { ifMatch: '"1"' });
    await client.webhookEndpoints.rotateSecret('whe_1', { grace_period_seconds: 0 });
    const page = await client.webhookEndpoints.deliveries('whe_1');
    assert.equal(page.data[0].attempt_log[0].response_status, 500);
    assert.equal((await client.webhookEndpoints.retryDelivery('whe_1', 'whd_1')).status, 'pending');
    assert.equal(await client.webhookEndpoints.delete('whe_1', { ifMatch: '"1"' }), undefined);
    assert.deepEqual(
      calls.map((c) => [c.method, c.path]),
      [
        ['POST', '/v2/webhook-endpoints'],
        ['PATCH', '/v2/webhook-endpoints/whe_1'],
        ['POST', '/v2/webhook-endpoints/whe_1/rotate-secret'],
        ['GET', '/v2/webhook-endpoints/whe_1/deliveries'],
        ['POST', '/v2/webhook-endpoints/whe_1/deliveries/whd_1/retry'],
        ['DELETE', '/v2/webhook-endpoints/whe_1'],
      ],
    );
    assert.deepEqual(JSON.parse(calls[1].body), { enabled: true });
    assert.equal(calls[1].headers['If-Match'], '"1"');
    assert.deepEqual(JSON.parse(calls[2].body), { grace_period_seconds: 0 });
    assert.equal(calls[5].headers['If-Match'], '"1"');
    // create and rotate-secret are not replayed by the server: no key, so never retried.
    assert.deepEqual(
      calls.filter((c) => c.headers['Idempotency-Key']).map((c) => [c.method, c.path]),
      [
        ['POST', '/v2/webhook-endpoints/whe_1/deliveries/whd_1/retry'],
        ['DELETE', '/v2/webhook-endpoints/whe_1'],
      ],
    );
  });
});

test('create and rotateSecret are not retried (the server does not replay them)', async () => {
  let n = 0;
  const fetch = async () => {
    n++;
    return new Response(JSON.stringify({ error: { code: 'unavailable', message: 'try later' } }), { status: 503, headers: { 'content-type': 'application/json' } });
  };
  const client = new CaseForge({ apiKey: 'cf_sand_x', baseURL: 'http://api.test', fetch, maxRetries: 2 });
  await assert.rejects(client.webhookEndpoints.create({ url: 'https://example.com/h', events: ['case.created'] }), CaseForgeError);
  await assert.rejects(client.webhookEndpoints.rotateSecret('whe_1'), CaseForgeError);
  assert.equal(n, 2);
  await assert.rejects(client.webhookEndpoints.retrieve('whe_1', { timeout: 5000 }), CaseForgeError);
  assert.equal(n, 5); // a read is retried
});

/** A tiny HTTP server on a free loopback port that answers 204 and keeps what it got. */
async function startReceiver() {
  const got = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { got, url: `http://127.0.0.1:${server.address().port}/hook`, close: () => new Promise((r) => server.close(r)) };
}

async function waitUntil(pred, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('webhooks against the real services', () => {
  let stack;
  let receiver;
  before(async () => {
    stack = await startStack();
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver?.close();
    await stack?.stop();
  });

  test('create an endpoint, receive case.created, verify it, list deliveries, rotate, delete', async () => {
    const key = await stack.createKey({ scopes: ['cases:read', 'cases:write', 'webhooks:read', 'webhooks:write'] });
    const client = new CaseForge({ apiKey: key.key, baseURL: stack.baseURL });
    const hooks = client.webhookEndpoints;
    const endpoint = await hooks.create({ url: receiver.url, events: ['case.created'], description: 'sdk test' });
    const secret = endpoint.secret;
    assert.match(secret, /^whsec_/);
    assert.equal(endpoint.enabled, true);
    assert.deepEqual(endpoint.events, ['case.created']);
    const read = await hooks.retrieve(endpoint.id);
    assert.equal(read.url, receiver.url);
    assert.equal('secret' in read, false);
    assert.ok(read.etag);
    const ids = [];
    for await (const e of hooks.list({ page_size: 1 })) ids.push(e.id);
    assert.deepEqual(ids, [endpoint.id]);

    const kase = await client.cases.create({ title: 'hooked' });
    await waitUntil(() => receiver.got.length >= 1, 'the case.created delivery');
    const { headers, body } = receiver.got[0];
    const event = verifyWebhook(body, headers, secret);
    assert.equal(event.type, 'case.created');
    assert.equal(event.data.id, kase.id);
    assert.throws(() => verifyWebhook(body.toString().replace('hooked', 'hacked'), headers, secret), WebhookVerificationError);
    assert.throws(() => verifyWebhook(body, headers, 'whsec_' + 'QUJD'.repeat(8)), WebhookVerificationError);

    await waitUntil(async () => {
      const { data } = await hooks.deliveries(endpoint.id);
      return data.length === 1 && data[0].status === 'succeeded';
    }, 'the delivery recorded as succeeded');
    const [delivery] = (await hooks.deliveries(endpoint.id)).data;
    assert.equal(delivery.event_id, headers['webhook-id']);
    assert.equal(delivery.event_type, 'case.created');
    assert.equal(delivery.attempts, 1);
    assert.equal(delivery.attempt_log[0].response_status, 204);
    // A retry by hand delivers the same event (same webhook-id) again.
    const retried = await hooks.retryDelivery(endpoint.id, delivery.id);
    assert.equal(retried.id, delivery.id);
    await waitUntil(() => receiver.got.length >= 2, 'the retried delivery');
    assert.equal(receiver.got[1].headers['webhook-id'], headers['webhook-id']);
    assert.equal(verifyWebhook(receiver.got[1].body, receiver.got[1].headers, secret).data.id, kase.id);

    const updated = await hooks.update(endpoint.id, { description: 'renamed' }, { ifMatch: read.etag });
    assert.equal(updated.description, 'renamed');
    await assert.rejects(hooks.update(endpoint.id, { description: 'stale' }, { ifMatch: read.etag }), PreconditionFailedError);

    const rotated = await hooks.rotateSecret(endpoint.id, { grace_period_seconds: 0 });
    assert.match(rotated.secret, /^whsec_/);
    assert.notEqual(rotated.secret, secret);
    await client.cases.create({ title: 'after rotation' });
    await waitUntil(() => receiver.got.length >= 3, 'the delivery after the rotation');
    const third = receiver.got[2];
    assert.equal(verifyWebhook(third.body, third.headers, rotated.secret).type, 'case.created');
    assert.throws(() => verifyWebhook(third.body, third.headers, secret), WebhookVerificationError); // no grace period

    // The rotation changed the record: the etag read before it no longer deletes.
    await assert.rejects(hooks.delete(endpoint.id, { ifMatch: updated.etag }), PreconditionFailedError);
    const current = await hooks.retrieve(endpoint.id);
    assert.equal(await hooks.delete(endpoint.id, { ifMatch: current.etag }), undefined);
    await assert.rejects(hooks.retrieve(endpoint.id), NotFoundError);
  });
});
