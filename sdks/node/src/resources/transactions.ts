import type { RequestOptions } from '../client.js';
import type { PagePromise } from '../core.js';
import type { Transaction, TransactionListParams } from '../types.js';
import { APIResource } from './resource.js';

/** `/v2/transactions` (scope `transactions:read`): filters `subject_id`, `from`, `to`. */
export class Transactions extends APIResource {
  list(params: TransactionListParams = {}, options?: RequestOptions): PagePromise<Transaction> {
    return this._client.list<Transaction>('/v2/transactions', params, options);
  }
}
