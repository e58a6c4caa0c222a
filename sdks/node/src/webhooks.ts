/**
 * Verifying the webhooks CaseForge sends (Standard Webhooks v1, contract §8).
 *
 * ```ts
 * import { verifyWebhook } from '@caseforge/sdk';
 * const event = verifyWebhook(rawBody, req.headers, process.env.CASEFORGE_WEBHOOK_SECRET!); // whsec_…
 * if (event.type === 'case.closed') { ... }
 * ```
 *
 * `verifyWebhook` checks the `webhook-signature` header (HMAC-SHA256 of `id.timestamp.body` under
 * the endpoint's `whsec_` secret; any one of the space-separated signatures may match, so both
 * secrets work during a rotation's grace period) and that `webhook-timestamp` is within
 * `tolerance` seconds (default 300) of now, so a replayed old delivery is refused. Pass the body
 * exactly as received (a string or the raw bytes), before any JSON parsing.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

import { CaseForgeError } from './errors.js';
import type { WebhookEventType } from './types.js';

/** Seconds a delivery's `webhook-timestamp` may be away from now. */
export const DEFAULT_WEBHOOK_TOLERANCE = 300;

/** The delivery is not signed by this secret, is malformed, or is too old or too new. */
export class WebhookVerificationError extends CaseForgeError {
  override name = 'WebhookVerificationError';
}

/** A delivery's body: `{ type, timestamp, data }` (`data` is the record the event is about). */
export interface WebhookEvent<Data = Record<string, unknown>> {
  type: WebhookEventType;
  timestamp: string;
  data: Data;
}

/** Headers as `fetch`'s `Headers`, Node's `IncomingHttpHeaders`, or a plain object (any case). */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** Seconds the timestamp may be away from now (default 300). */
  tolerance?: number | undefined;
  /** The current time (for tests). */
  now?: Date | undefined;
}

function key(secret: string): Buffer {
  const raw = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  if (raw === '' || raw.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(raw)) {
    throw new WebhookVerificationError('The secret is not a whsec_ secret.');
  }
  return Buffer.from(raw, 'base64');
}

function header(headers: WebhookHeaders, name: string): string {
  let value: string | string[] | null | undefined;
  if (typeof (headers as Headers).get === 'function' && typeof (headers as Headers).forEach === 'function') {
    value = (headers as Headers).get(name);
  } else {
    for (const [k, v] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
      if (k.toLowerCase() === name) value = v;
    }
  }
  if (Array.isArray(value)) value = value.join(' ');
  if (value === undefined || value === null) throw new WebhookVerificationError(`Missing header ${name}.`);
  return value;
}

function bytes(payload: string | Uint8Array): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
}

/** `v1,<base64 HMAC-SHA256>` of `msgId.timestamp.payload` (what the server sends). */
export function signWebhook(secret: string, msgId: string, timestamp: number, payload: string | Uint8Array): string {
  const mac = createHmac('sha256', key(secret)).update(`${msgId}.${timestamp}.`).update(bytes(payload)).digest();
  return `v1,${mac.toString('base64')}`;
}

/**
 * The delivery's JSON when it is authentic; otherwise throws {@link WebhookVerificationError}.
 * `headers` needs `webhook-id`, `webhook-timestamp` and `webhook-signature`.
 */
export function verifyWebhook<Data = Record<string, unknown>>(
  payload: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string,
  options: VerifyWebhookOptions = {},
): WebhookEvent<Data> {
  const msgId = header(headers, 'webhook-id');
  const tsText = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!/^\d+$/.test(tsText)) throw new WebhookVerificationError('Malformed webhook-timestamp.');
  const ts = Number(tsText);
  const now = (options.now ?? new Date()).getTime() / 1000;
  if (Math.abs(now - ts) > (options.tolerance ?? DEFAULT_WEBHOOK_TOLERANCE)) {
    throw new WebhookVerificationError('The webhook-timestamp is too far from now.');
  }
  const expected = Buffer.from(signWebhook(secret, msgId, ts, payload).slice('v1,'.length), 'base64');
  const ok = signatures.split(/\s+/).some((candidate) => {
    const comma = candidate.indexOf(',');
    if (comma < 0 || candidate.slice(0, comma) !== 'v1') return false;
    const got = Buffer.from(candidate.slice(comma + 1), 'base64');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
  if (!ok) throw new WebhookVerificationError('No signature matches.');
  try {
    return JSON.parse(bytes(payload).toString('utf8')) as WebhookEvent<Data>;
  } catch {
    throw new WebhookVerificationError('The payload is not JSON.');
  }
}
