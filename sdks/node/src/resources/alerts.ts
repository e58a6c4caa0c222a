import type { RequestOptions } from '../client.js';
import type { PagePromise } from '../core.js';
import type { Alert, AlertListParams } from '../types.js';
import { APIResource } from './resource.js';

/** `/v2/alerts` (scope `alerts:read`): filters `status`, `severity`, `subject_id`. */
export class Alerts extends APIResource {
  list(params: AlertListParams = {}, options?: RequestOptions): PagePromise<Alert> {
    return this._client.list<Alert>('/v2/alerts', params, options);
  }
}
