/**
 * `@caseforge/sdk`: the official client of the CaseForge `/v2` API.
 *
 * ```ts
 * import CaseForge from '@caseforge/sdk';
 * const client = new CaseForge();                         // reads CASEFORGE_API_KEY
 * const cases = await client.cases.list({ status: 'open' });
 * ```
 */
import { CaseForge } from './client.js';

export default CaseForge;
export { CaseForge };
export type { ClientOptions, RequestOptions } from './client.js';
export { APIPromise, Page, PagePromise } from './core.js';
export type { APIResponse, ListQuery, WithETag } from './core.js';
export {
  CaseForgeError,
  APIError,
  APIConnectionError,
  APITimeoutError,
  APIStatusError,
  BadRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  ConflictError,
  PreconditionFailedError,
  UnprocessableEntityError,
  RateLimitError,
  InternalServerError,
} from './errors.js';
export { VERSION } from './version.js';
export type { PrivateKeyInput } from './keys.js';
export { verifyWebhook, signWebhook, WebhookVerificationError, DEFAULT_WEBHOOK_TOLERANCE } from './webhooks.js';
export type { WebhookEvent, WebhookHeaders, VerifyWebhookOptions } from './webhooks.js';
export type * from './types.js';
export type { Cases } from './resources/cases.js';
export type { Sars } from './resources/sars.js';
export type { Watchlist } from './resources/watchlist.js';
export type { Subjects } from './resources/subjects.js';
export type { Transactions } from './resources/transactions.js';
export type { Alerts } from './resources/alerts.js';
export type { ApiKeys } from './resources/api-keys.js';
export type { WebhookEndpoints } from './resources/webhook-endpoints.js';
