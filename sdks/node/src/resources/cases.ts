import type { RequestOptions } from '../client.js';
import type { APIPromise, PagePromise, WithETag } from '../core.js';
import type {
  Case,
  CaseAssignParams,
  CaseCloseParams,
  CaseCreateParams,
  CaseEvent,
  CaseHistoryParams,
  CaseListParams,
  CaseUpdateParams,
} from '../types.js';
import { APIResource, seg } from './resource.js';

/** `/v2/cases` (scopes `cases:read`, `cases:write`). */
export class Cases extends APIResource {
  /** Filters `status`, `assignee`, `priority`; `page_size` 1–100. */
  list(params: CaseListParams = {}, options?: RequestOptions): PagePromise<Case> {
    return this._client.list<Case>('/v2/cases', params, options);
  }

  /** Sent with an `Idempotency-Key` (one per call, reused on retries). */
  create(body: CaseCreateParams, options?: RequestOptions): APIPromise<WithETag<Case>> {
    return this._client.record<Case>({ method: 'POST', path: '/v2/cases', body, idempotent: true, options });
  }

  retrieve(id: string, options?: RequestOptions): APIPromise<WithETag<Case>> {
    return this._client.record<Case>({ method: 'GET', path: `/v2/cases/${seg(id)}`, options });
  }

  /** `PATCH`; pass `{ ifMatch: record.etag }` to change it only if nobody else did. */
  update(id: string, body: CaseUpdateParams, options?: RequestOptions): APIPromise<WithETag<Case>> {
    return this._client.record<Case>({ method: 'PATCH', path: `/v2/cases/${seg(id)}`, body, options });
  }

  /** `POST /v2/cases/{id}/assign` (`assignee: null` unassigns). */
  assign(id: string, body: CaseAssignParams, options?: RequestOptions): APIPromise<WithETag<Case>> {
    return this._client.record<Case>({ method: 'POST', path: `/v2/cases/${seg(id)}/assign`, body, idempotent: true, options });
  }

  /** `POST /v2/cases/{id}/close` with a `resolution`. */
  close(id: string, body: CaseCloseParams, options?: RequestOptions): APIPromise<WithETag<Case>> {
    return this._client.record<Case>({ method: 'POST', path: `/v2/cases/${seg(id)}/close`, body, idempotent: true, options });
  }

  /** Every change to the case, as a list. */
  history(id: string, params: CaseHistoryParams = {}, options?: RequestOptions): PagePromise<CaseEvent> {
    return this._client.list<CaseEvent>(`/v2/cases/${seg(id)}/history`, params, options);
  }
}
