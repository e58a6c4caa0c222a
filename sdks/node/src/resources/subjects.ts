import type { RequestOptions } from '../client.js';
import type { APIPromise, PagePromise, WithETag } from '../core.js';
import type { Subject, SubjectCreateParams, SubjectListParams, SubjectUpdateParams } from '../types.js';
import { APIResource, seg } from './resource.js';

/** `/v2/subjects` (scopes `subjects:read`, `subjects:write`). */
export class Subjects extends APIResource {
  list(params: SubjectListParams = {}, options?: RequestOptions): PagePromise<Subject> {
    return this._client.list<Subject>('/v2/subjects', params, options);
  }

  create(body: SubjectCreateParams, options?: RequestOptions): APIPromise<WithETag<Subject>> {
    return this._client.record<Subject>({ method: 'POST', path: '/v2/subjects', body, idempotent: true, options });
  }

  retrieve(id: string, options?: RequestOptions): APIPromise<WithETag<Subject>> {
    return this._client.record<Subject>({ method: 'GET', path: `/v2/subjects/${seg(id)}`, options });
  }

  update(id: string, body: SubjectUpdateParams, options?: RequestOptions): APIPromise<WithETag<Subject>> {
    return this._client.record<Subject>({ method: 'PATCH', path: `/v2/subjects/${seg(id)}`, body, options });
  }
}
