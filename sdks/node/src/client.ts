import { randomUUID } from 'node:crypto';

import { ApiKeyCredential, OAuthCredential, parseJSON, type ClientAuth, type Credential, type PerAttempt } from './auth.js';
import { DPoPKey, SigningKey, type PrivateKeyInput } from './keys.js';
import { APIPromise, Page, PagePromise, type APIResponse, type ListQuery, type WithETag } from './core.js';
import {
  APIConnectionError,
  APIError,
  APIStatusError,
  APITimeoutError,
  AuthenticationError,
  BadRequestError,
  CaseForgeError,
  ConflictError,
  InternalServerError,
  NotFoundError,
  PermissionDeniedError,
  PreconditionFailedError,
  RateLimitError,
  UnprocessableEntityError,
  parseRetryAfter,
} from './errors.js';
import { Alerts } from './resources/alerts.js';
import { ApiKeys } from './resources/api-keys.js';
import { Cases } from './resources/cases.js';
import { Sars } from './resources/sars.js';
import { Subjects } from './resources/subjects.js';
import { Transactions } from './resources/transactions.js';
import { Watchlist } from './resources/watchlist.js';
import { WebhookEndpoints } from './resources/webhook-endpoints.js';
import type { Me } from './types.js';
import { VERSION } from './version.js';

export interface ClientOptions {
  /** An API key (`cf_live_…` / `cf_sand_…`). Default: `CASEFORGE_API_KEY`, unless client credentials are given here. */
  apiKey?: string | undefined;
  /** OAuth client id. Default: `CASEFORGE_CLIENT_ID`. */
  clientId?: string | undefined;
  /** OAuth client secret. Default: `CASEFORGE_CLIENT_SECRET`. Never shown in errors, logs or `inspect`. */
  clientSecret?: string | undefined;
  /**
   * `private_key_jwt` (RFC 7523): the application's private key instead of a secret — PEM text,
   * a `KeyObject` or a private JWK (EC P-256 → ES256, Ed25519 → EdDSA, RSA ≥ 2048 → PS256).
   * Each token request carries a new client assertion signed with it.
   */
  privateKey?: PrivateKeyInput | undefined;
  /** The `kid` the key is registered under (default: the JWK's own `kid`, else none). */
  keyId?: string | undefined;
  /**
   * DPoP (RFC 9449): a fresh P-256 key for this client, a proof on the token request and on every
   * API request; tokens are then bound to the key (`Authorization: DPoP`). Server nonces are
   * followed (one retry with `DPoP-Nonce`). OAuth only (API keys cannot be bound).
   */
  dpop?: boolean | undefined;
  /** Scopes to ask for (all of the application's when omitted). */
  scopes?: string[] | string | undefined;
  /** The resource API. Default: `CASEFORGE_BASE_URL`, else `http://127.0.0.1:8080`. */
  baseURL?: string | undefined;
  /** The issuer (auth server); its token endpoint is found through RFC 8414 metadata. Default: `CASEFORGE_AUTH_URL`, else `http://127.0.0.1:8081`. */
  authURL?: string | undefined;
  /** Retries of a failed request that is safe to retry (default 2). */
  maxRetries?: number | undefined;
  /** Milliseconds per attempt (default 60 000). */
  timeout?: number | undefined;
  /** A `fetch` implementation (default: the global one). */
  fetch?: typeof fetch | undefined;
  /** Headers sent with every request. */
  defaultHeaders?: Record<string, string> | undefined;
}

/** Per-call options, the last argument of every method. */
export interface RequestOptions {
  /** `If-Match`: the `etag` of the record as you last read it (`update`, transitions, `delete`). */
  ifMatch?: string | undefined;
  /** `Idempotency-Key` for a create or a transition (default: a new UUID per call, reused on each retry). */
  idempotencyKey?: string | undefined;
  maxRetries?: number | undefined;
  timeout?: number | undefined;
  signal?: AbortSignal | undefined;
  headers?: Record<string, string> | undefined;
}

type HTTPMethod = 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'DELETE';

/** @internal */
export interface RequestSpec {
  method: HTTPMethod;
  path: string;
  query?: ListQuery | undefined;
  body?: unknown;
  /** A create or a transition: sends an `Idempotency-Key`, which makes it retryable. */
  idempotent?: boolean;
  /** Retryable although not GET/HEAD (no side effect, e.g. screening). */
  safe?: boolean;
  options?: RequestOptions | undefined;
}

const DEFAULT_BASE_URL = 'http://127.0.0.1:8080';
const DEFAULT_AUTH_URL = 'http://127.0.0.1:8081';
const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_RETRIES = 2;
/** A `Retry-After` longer than this is not waited for: the error is thrown. */
const MAX_RETRY_AFTER_S = 60;

function env(name: string): string | undefined {
  const value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * The CaseForge `/v2` API.
 *
 * ```ts
 * const client = new CaseForge();                  // CASEFORGE_API_KEY, or client credentials
 * const page = await client.cases.list({ status: 'open' });
 * for await (const c of client.cases.list({ priority: 'high' })) console.log(c.reference);
 * ```
 */
export class CaseForge {
  static readonly VERSION = VERSION;
  static readonly CaseForge = CaseForge;
  static readonly CaseForgeError = CaseForgeError;
  static readonly APIError = APIError;
  static readonly APIConnectionError = APIConnectionError;
  static readonly APITimeoutError = APITimeoutError;
  static readonly APIStatusError = APIStatusError;
  static readonly BadRequestError = BadRequestError;
  static readonly AuthenticationError = AuthenticationError;
  static readonly PermissionDeniedError = PermissionDeniedError;
  static readonly NotFoundError = NotFoundError;
  static readonly ConflictError = ConflictError;
  static readonly PreconditionFailedError = PreconditionFailedError;
  static readonly UnprocessableEntityError = UnprocessableEntityError;
  static readonly RateLimitError = RateLimitError;
  static readonly InternalServerError = InternalServerError;

  readonly baseURL: string;
  readonly authURL: string;
  readonly maxRetries: number;
  readonly timeout: number;
  /** `'api_key'` or `'oauth'`. */
  readonly credentialType: 'api_key' | 'oauth';
  readonly #credential: Credential;
  readonly #dpop: DPoPKey | undefined;
  readonly #fetch: typeof fetch;
  readonly #defaultHeaders: Record<string, string>;

  readonly cases: Cases = new Cases(this);
  readonly sars: Sars = new Sars(this);
  readonly watchlist: Watchlist = new Watchlist(this);
  readonly subjects: Subjects = new Subjects(this);
  readonly transactions: Transactions = new Transactions(this);
  readonly alerts: Alerts = new Alerts(this);
  readonly apiKeys: ApiKeys = new ApiKeys(this);
  readonly webhookEndpoints: WebhookEndpoints = new WebhookEndpoints(this);

  constructor(options: ClientOptions = {}) {
    this.baseURL = (options.baseURL ?? env('CASEFORGE_BASE_URL') ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.authURL = (options.authURL ?? env('CASEFORGE_AUTH_URL') ?? DEFAULT_AUTH_URL).replace(/\/+$/, '');
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(this.maxRetries) || this.maxRetries < 0) {
      throw new CaseForgeError('maxRetries must be a whole number ≥ 0.');
    }
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') {
      throw new CaseForgeError('No fetch: use Node ≥ 18 or pass the `fetch` option.');
    }
    this.#fetch = fetchImpl;
    this.#defaultHeaders = { ...options.defaultHeaders };

    // Arguments first; client credentials given as arguments mean the environment's API key is
    // not used; then CASEFORGE_API_KEY, then CASEFORGE_CLIENT_ID / CASEFORGE_CLIENT_SECRET.
    const credentialsAsOptions = options.clientId !== undefined || options.clientSecret !== undefined || options.privateKey !== undefined;
    if (options.apiKey !== undefined && credentialsAsOptions) {
      throw new CaseForgeError('Give either apiKey or clientId/clientSecret (or clientId/privateKey), not both.');
    }
    if (options.privateKey !== undefined && options.clientSecret !== undefined) {
      throw new CaseForgeError('Give either clientSecret or privateKey, not both: an application authenticates one way.');
    }
    if (options.keyId !== undefined && options.privateKey === undefined) {
      throw new CaseForgeError('keyId names the kid of privateKey: give privateKey too.');
    }
    const apiKey = options.apiKey ?? (credentialsAsOptions ? undefined : env('CASEFORGE_API_KEY'));
    if (apiKey !== undefined) {
      if (options.dpop) throw new CaseForgeError('dpop needs OAuth client credentials: API keys are not sender-constrained.');
      this.#credential = new ApiKeyCredential(apiKey);
    } else {
      const clientId = options.clientId ?? env('CASEFORGE_CLIENT_ID');
      let auth: ClientAuth;
      if (options.privateKey !== undefined) {
        // The key replaces the secret: CASEFORGE_CLIENT_SECRET is not read.
        if (clientId === undefined) throw new CaseForgeError('privateKey needs clientId (or CASEFORGE_CLIENT_ID).');
        auth = { signingKey: new SigningKey(options.privateKey, options.keyId) };
      } else {
        const clientSecret = options.clientSecret ?? env('CASEFORGE_CLIENT_SECRET');
        if (clientId === undefined || clientSecret === undefined) {
          throw new CaseForgeError(
            'No credentials: pass apiKey, or clientId and clientSecret (or privateKey), or set CASEFORGE_API_KEY, or CASEFORGE_CLIENT_ID and CASEFORGE_CLIENT_SECRET.',
          );
        }
        auth = { clientSecret };
      }
      const scopes = typeof options.scopes === 'string' ? options.scopes.split(/\s+/).filter(Boolean) : options.scopes;
      // One fresh P-256 key per client, in memory only (RFC 9449 §2).
      this.#dpop = options.dpop ? new DPoPKey() : undefined;
      this.#credential = new OAuthCredential(
        clientId,
        auth,
        scopes,
        this.authURL,
        (url, init, o) => this.#send(url, init, { retryable: o.retryable, maxRetries: this.maxRetries, timeout: this.timeout, perAttempt: o.perAttempt }, randomUUID()),
        this.#dpop,
      );
    }
    this.credentialType = this.#credential.kind;
  }

  /** `GET /v2/me`: who the credential is, its environment, scopes and tier. */
  me(options?: RequestOptions): APIPromise<Me> {
    return this.request<Me>({ method: 'GET', path: '/v2/me', options });
  }

  /** @internal A request whose answer is JSON (a single record gets its `etag`). */
  request<T>(spec: RequestSpec, parse: (r: APIResponse) => T = parseBody): APIPromise<T> {
    return new APIPromise(this.#makeRequest(spec), parse);
  }

  /** @internal A single record with its `ETag`. */
  record<T>(spec: RequestSpec): APIPromise<WithETag<T>> {
    return this.request(spec, (r) => withETag(parseBody<T>(r), r.response.headers.get('etag')));
  }

  /** @internal A list: the first page, iterable over every row. */
  list<Item>(path: string, query: ListQuery | undefined, options?: RequestOptions): PagePromise<Item> {
    const fetchPage = (q: ListQuery): Promise<Page<Item>> =>
      this.request({ method: 'GET', path, query: q, options }, (r) => new Page<Item>(parseBody(r), q, fetchPage));
    const first = { ...query };
    return new PagePromise<Item>(this.#makeRequest({ method: 'GET', path, query: first, options }), (r) => new Page<Item>(parseBody(r), first, fetchPage));
  }

  async #makeRequest(spec: RequestSpec): Promise<APIResponse> {
    const options = spec.options ?? {};
    const requestId = randomUUID();
    const url = new URL(this.baseURL + spec.path);
    for (const [k, v] of Object.entries(spec.query ?? {})) {
      if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = {
      Accept: 'application/json',
      ...this.#defaultHeaders,
      ...options.headers,
    };
    if (spec.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.ifMatch !== undefined) headers['If-Match'] = options.ifMatch;
    if (spec.idempotent) headers['Idempotency-Key'] = options.idempotencyKey ?? randomUUID();
    const retryable = spec.method === 'GET' || spec.method === 'HEAD' || spec.safe === true || spec.idempotent === true;
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);

    // A 401 on an OAuth token: renew it once and send the request once more.
    let renewed = false;
    for (;;) {
      const auth = await this.#credential.header();
      const dpop = this.#dpop;
      // A DPoP-bound token: a new proof of this method and URL, with `ath`, on every attempt.
      const perAttempt: PerAttempt | undefined =
        auth.dpop && dpop !== undefined ? () => ({ headers: { DPoP: dpop.proof(spec.method, url.toString(), auth.token) } }) : undefined;
      try {
        return await this.#send(
          url.toString(),
          { method: spec.method, headers: { ...headers, [auth.name]: auth.value }, body },
          { retryable, maxRetries: options.maxRetries ?? this.maxRetries, timeout: options.timeout ?? this.timeout, signal: options.signal, perAttempt },
          requestId,
        );
      } catch (err) {
        if (err instanceof AuthenticationError && this.#credential.kind === 'oauth' && !renewed) {
          renewed = true;
          this.#credential.invalidate(auth.token);
          continue;
        }
        throw err;
      }
    }
  }

  /** One request with retries (when `retryable`): backoff with jitter, `Retry-After` honoured. */
  async #send(
    url: string,
    init: RequestInit & { headers: Record<string, string> },
    opts: { retryable: boolean; maxRetries: number; timeout: number; signal?: AbortSignal | undefined; perAttempt?: PerAttempt | undefined },
    requestId: string,
  ): Promise<APIResponse> {
    const headers = { ...init.headers, 'X-Request-Id': requestId, 'User-Agent': `caseforge-node/${VERSION}` };
    let nonceRetried = false;
    for (let attempt = 0; ; attempt++) {
      const canRetry = opts.retryable && attempt < opts.maxRetries;
      const fresh = opts.perAttempt?.() ?? {};
      let result: APIResponse;
      try {
        result = await this.#attempt(
          url,
          { ...init, headers: { ...headers, ...fresh.headers }, body: fresh.body ?? init.body ?? null },
          opts.timeout,
          opts.signal,
          requestId,
        );
      } catch (err) {
        if (err instanceof APIConnectionError && canRetry && !opts.signal?.aborted) {
          await sleep(backoffMs(attempt));
          continue;
        }
        throw err;
      }
      const { response } = result;
      const nonce = this.#dpop !== undefined ? response.headers.get('dpop-nonce') : null;
      this.#dpop?.noteNonce(url, nonce);
      if (response.ok) return result;
      const error = APIStatusError.from(response.status, parseJSON(result.text), response.headers, result.requestId);
      // RFC 9449 §8/§9: the server wants its nonce in the proof (400 from the token endpoint, 401
      // from the API). Once per call, at once, not counted as a retry: the next proof carries it.
      if (nonce && error.code === 'use_dpop_nonce' && (response.status === 400 || response.status === 401) && !nonceRetried) {
        nonceRetried = true;
        attempt--;
        continue;
      }
      if (canRetry && isRetryable(error)) {
        const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
        if (retryAfter === undefined || retryAfter <= MAX_RETRY_AFTER_S) {
          await sleep(retryAfter !== undefined ? retryAfter * 1000 + Math.random() * 100 : backoffMs(attempt));
          continue;
        }
      }
      throw error;
    }
  }

  async #attempt(url: string, init: RequestInit, timeout: number, signal: AbortSignal | undefined, requestId: string): Promise<APIResponse> {
    if (signal?.aborted) throw new APIError('Request was aborted.', requestId);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeout);
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const response = await this.#fetch(url, { ...init, signal: controller.signal });
      const text = await response.text();
      return { response, text, requestId: response.headers.get('x-request-id') ?? requestId };
    } catch (err) {
      if (timedOut) throw new APITimeoutError(undefined, requestId, { cause: err });
      if (signal?.aborted) throw new APIError('Request was aborted.', requestId, { cause: err });
      throw new APIConnectionError(`Connection error: ${describe(err)}`, requestId, { cause: err });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  toJSON(): object {
    return { baseURL: this.baseURL, authURL: this.authURL, credentialType: this.credentialType, dpop: this.#dpop !== undefined, maxRetries: this.maxRetries, timeout: this.timeout };
  }
}

function isRetryable(error: APIStatusError): boolean {
  const s = error.status;
  return s === 408 || s === 429 || s >= 500 || (s === 409 && error.code === 'busy');
}

/** 0.5 s, 1 s, 2 s, … capped at 8 s, less up to 25 % jitter. */
function backoffMs(attempt: number): number {
  return Math.min(500 * 2 ** attempt, 8000) * (1 - Math.random() * 0.25);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const message = err instanceof Error ? err.message : String(err);
  return cause?.code ?? cause?.message ?? message;
}

function parseBody<T>(r: APIResponse): T {
  return parseJSON(r.text) as T;
}

function withETag<T>(record: T, etag: string | null): WithETag<T> {
  if (record !== null && typeof record === 'object' && etag !== null) {
    Object.defineProperty(record, 'etag', { value: etag, enumerable: false, writable: false, configurable: true });
  }
  return record as WithETag<T>;
}
