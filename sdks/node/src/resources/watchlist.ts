import type { RequestOptions } from '../client.js';
import type { APIPromise, PagePromise, WithETag } from '../core.js';
import type {
  ScreenResponse,
  WatchlistCreateParams,
  WatchlistEntry,
  WatchlistListParams,
  WatchlistScreenParams,
  WatchlistUpdateParams,
} from '../types.js';
import { APIResource, seg } from './resource.js';

/** `/v2/watchlist` (scopes `watchlist:read`, `watchlist:write`). */
export class Watchlist extends APIResource {
  list(params: WatchlistListParams = {}, options?: RequestOptions): PagePromise<WatchlistEntry> {
    return this._client.list<WatchlistEntry>('/v2/watchlist', params, options);
  }

  create(body: WatchlistCreateParams, options?: RequestOptions): APIPromise<WithETag<WatchlistEntry>> {
    return this._client.record<WatchlistEntry>({ method: 'POST', path: '/v2/watchlist', body, idempotent: true, options });
  }

  retrieve(id: string, options?: RequestOptions): APIPromise<WithETag<WatchlistEntry>> {
    return this._client.record<WatchlistEntry>({ method: 'GET', path: `/v2/watchlist/${seg(id)}`, options });
  }

  update(id: string, body: WatchlistUpdateParams, options?: RequestOptions): APIPromise<WithETag<WatchlistEntry>> {
    return this._client.record<WatchlistEntry>({ method: 'PATCH', path: `/v2/watchlist/${seg(id)}`, body, options });
  }

  /**
   * `DELETE` (204); `ifMatch` deletes only the version you read. Sent with an `Idempotency-Key`
   * like a transition (one per call, reused on retries), so a retried delete whose answer was lost
   * is answered as the first one was.
   */
  delete(id: string, options?: RequestOptions): APIPromise<void> {
    return this._client.request<void>({ method: 'DELETE', path: `/v2/watchlist/${seg(id)}`, idempotent: true, options }, () => undefined);
  }

  /**
   * `POST /v2/watchlist/screen`: matches for a name, best first. Writes nothing, so it is retried
   * like a read (e.g. on 503 with `Retry-After`).
   */
  screen(body: WatchlistScreenParams, options?: RequestOptions): APIPromise<ScreenResponse> {
    return this._client.request<ScreenResponse>({ method: 'POST', path: '/v2/watchlist/screen', body, safe: true, options });
  }
}
