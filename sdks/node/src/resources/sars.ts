import type { RequestOptions } from '../client.js';
import type { APIPromise, PagePromise, WithETag } from '../core.js';
import type { Sar, SarCreateParams, SarListParams, SarUpdateParams } from '../types.js';
import { APIResource, seg } from './resource.js';

/** `/v2/sars` (scopes `sar:read`, `sar:write`). */
export class Sars extends APIResource {
  list(params: SarListParams = {}, options?: RequestOptions): PagePromise<Sar> {
    return this._client.list<Sar>('/v2/sars', params, options);
  }

  /** Creates a draft. */
  create(body: SarCreateParams, options?: RequestOptions): APIPromise<WithETag<Sar>> {
    return this._client.record<Sar>({ method: 'POST', path: '/v2/sars', body, idempotent: true, options });
  }

  retrieve(id: string, options?: RequestOptions): APIPromise<WithETag<Sar>> {
    return this._client.record<Sar>({ method: 'GET', path: `/v2/sars/${seg(id)}`, options });
  }

  /** Drafts only (else `ConflictError`). */
  update(id: string, body: SarUpdateParams, options?: RequestOptions): APIPromise<WithETag<Sar>> {
    return this._client.record<Sar>({ method: 'PATCH', path: `/v2/sars/${seg(id)}`, body, options });
  }

  /** Draft → submitted for review. */
  submit(id: string, options?: RequestOptions): APIPromise<WithETag<Sar>> {
    return this._client.record<Sar>({ method: 'POST', path: `/v2/sars/${seg(id)}/submit`, idempotent: true, options });
  }
}
