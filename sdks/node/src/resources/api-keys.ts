import type { RequestOptions } from '../client.js';
import type { APIPromise } from '../core.js';
import type { ApiKeyValidation } from '../types.js';
import { APIResource } from './resource.js';

/** `/v2/api_keys` (API keys only). */
export class ApiKeys extends APIResource {
  /** `POST /v2/api_keys/validate`: the calling key's admin view. */
  validate(options?: RequestOptions): APIPromise<ApiKeyValidation> {
    return this._client.request<ApiKeyValidation>({ method: 'POST', path: '/v2/api_keys/validate', safe: true, options });
  }
}
