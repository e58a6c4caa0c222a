import type { RequestOptions } from '../client.js';
import type { APIPromise, PagePromise, WithETag } from '../core.js';
import type {
  WebhookDelivery,
  WebhookDeliveryListParams,
  WebhookEndpoint,
  WebhookEndpointCreateParams,
  WebhookEndpointListParams,
  WebhookEndpointRotateSecretParams,
  WebhookEndpointUpdateParams,
  WebhookEndpointWithSecret,
} from '../types.js';
import { APIResource, seg } from './resource.js';

/**
 * `/v2/webhook-endpoints` (scopes `webhooks:read`, `webhooks:write`; contract §8). The `secret`
 * (`whsec_…`) is in the answers of `create` and `rotateSecret` only; check each delivery with
 * `verifyWebhook(body, headers, secret)`.
 */
export class WebhookEndpoints extends APIResource {
  list(params: WebhookEndpointListParams = {}, options?: RequestOptions): PagePromise<WebhookEndpoint> {
    return this._client.list<WebhookEndpoint>('/v2/webhook-endpoints', params, options);
  }

  /**
   * Registers an endpoint; the answer's `secret` is shown this once. The server does not replay
   * this call (its answer holds a secret), so it carries no `Idempotency-Key` and is not retried:
   * a retry whose first answer was lost would make a second endpoint.
   */
  create(body: WebhookEndpointCreateParams, options?: RequestOptions): APIPromise<WithETag<WebhookEndpointWithSecret>> {
    return this._client.record<WebhookEndpointWithSecret>({ method: 'POST', path: '/v2/webhook-endpoints', body, options });
  }

  retrieve(id: string, options?: RequestOptions): APIPromise<WithETag<WebhookEndpoint>> {
    return this._client.record<WebhookEndpoint>({ method: 'GET', path: `/v2/webhook-endpoints/${seg(id)}`, options });
  }

  /** `PATCH` the URL, events, description; `enabled: true` re-enables. Pass `{ ifMatch: endpoint.etag }`. */
  update(id: string, body: WebhookEndpointUpdateParams, options?: RequestOptions): APIPromise<WithETag<WebhookEndpoint>> {
    return this._client.record<WebhookEndpoint>({ method: 'PATCH', path: `/v2/webhook-endpoints/${seg(id)}`, body, options });
  }

  /** `DELETE` (204), with an `Idempotency-Key`; `ifMatch` deletes only the version you read. */
  delete(id: string, options?: RequestOptions): APIPromise<void> {
    return this._client.request<void>({ method: 'DELETE', path: `/v2/webhook-endpoints/${seg(id)}`, idempotent: true, options }, () => undefined);
  }

  /**
   * A new secret (in the answer's `secret`); the previous one keeps signing beside it for
   * `grace_period_seconds` (server default 86400; 0 ends it at once). Not replayed by the server,
   * so not retried (like `create`).
   */
  rotateSecret(
    id: string,
    body: WebhookEndpointRotateSecretParams = {},
    options?: RequestOptions,
  ): APIPromise<WithETag<WebhookEndpointWithSecret>> {
    return this._client.record<WebhookEndpointWithSecret>({
      method: 'POST',
      path: `/v2/webhook-endpoints/${seg(id)}/rotate-secret`,
      body,
      options,
    });
  }

  /** The endpoint's deliveries, newest first (a page; iterate to walk all). */
  deliveries(id: string, params: WebhookDeliveryListParams = {}, options?: RequestOptions): PagePromise<WebhookDelivery> {
    return this._client.list<WebhookDelivery>(`/v2/webhook-endpoints/${seg(id)}/deliveries`, params, options);
  }

  /** Makes a delivery due now (answered 202 with the delivery). */
  retryDelivery(id: string, deliveryId: string, options?: RequestOptions): APIPromise<WebhookDelivery> {
    return this._client.request<WebhookDelivery>({
      method: 'POST',
      path: `/v2/webhook-endpoints/${seg(id)}/deliveries/${seg(deliveryId)}/retry`,
      idempotent: true,
      options,
    });
  }
}
