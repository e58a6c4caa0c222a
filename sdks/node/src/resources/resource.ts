import type { CaseForge } from '../client.js';

export class APIResource {
  protected readonly _client: CaseForge;
  constructor(client: CaseForge) {
    this._client = client;
  }
}

/** A path segment from an id. */
export function seg(id: string): string {
  if (typeof id !== 'string' || id === '') throw new TypeError('An id must be a non-empty string.');
  return encodeURIComponent(id);
}
