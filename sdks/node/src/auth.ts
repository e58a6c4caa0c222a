/** Credentials: an API key, or an OAuth 2.0 client-credentials token kept fresh. */
import { APIStatusError, AuthenticationError, CaseForgeError } from './errors.js';
import { CLIENT_ASSERTION_TYPE, clientAssertion, type DPoPKey, type SigningKey } from './keys.js';

/** Renew a token this long before it expires. */
export const RENEW_BEFORE_MS = 5 * 60 * 1000;

/** What a request sends, and which token it was (for renewing after a 401). */
export interface AuthHeader {
  name: string;
  value: string;
  token?: string;
  /** A DPoP-bound token (`token_type: DPoP`): every request also needs a proof with `ath`. */
  dpop?: boolean;
}

export interface Credential {
  readonly kind: 'api_key' | 'oauth';
  header(): Promise<AuthHeader>;
  /** A 401 answered this token: forget it (unless it was already replaced). */
  invalidate(token: string | undefined): void;
}

export class ApiKeyCredential implements Credential {
  readonly kind = 'api_key' as const;
  readonly #key: string;
  constructor(key: string) {
    this.#key = key;
  }
  async header(): Promise<AuthHeader> {
    return { name: 'X-API-Key', value: this.#key };
  }
  invalidate(): void {}
  toJSON(): object {
    return { kind: this.kind };
  }
}

/** Headers made anew for each attempt (a client assertion, a DPoP proof: each `jti` is used once). */
export type PerAttempt = () => { headers?: Record<string, string>; body?: string };

/** Sends one request to the auth server (with the client's retries and timeout). */
export type AuthRequest = (
  url: string,
  init: RequestInit & { headers: Record<string, string> },
  opts: { retryable: boolean; perAttempt?: PerAttempt },
) => Promise<{ response: Response; text: string; requestId: string }>;

/** How the client proves who it is at the token endpoint. */
export type ClientAuth = { clientSecret: string } | { signingKey: SigningKey };

interface CachedToken {
  value: string;
  renewAt: number;
  dpop: boolean;
}

/**
 * Client credentials (RFC 6749 §4.4) against the token endpoint named by the issuer's RFC 8414
 * metadata. The token is fetched on first use, cached in memory, renewed within 5 minutes of its
 * expiry; concurrent callers share one in-flight fetch.
 */
export class OAuthCredential implements Credential {
  readonly kind = 'oauth' as const;
  readonly clientId: string;
  readonly scopes: string[] | undefined;
  readonly authURL: string;
  readonly #auth: ClientAuth;
  readonly #dpop: DPoPKey | undefined;
  readonly #send: AuthRequest;
  #token: CachedToken | undefined;
  #inflight: Promise<CachedToken> | undefined;
  #tokenEndpoint: Promise<string> | undefined;

  constructor(clientId: string, auth: ClientAuth, scopes: string[] | undefined, authURL: string, send: AuthRequest, dpop?: DPoPKey) {
    this.clientId = clientId;
    this.#auth = auth;
    this.#dpop = dpop;
    this.scopes = scopes;
    this.authURL = authURL;
    this.#send = send;
  }

  async header(): Promise<AuthHeader> {
    const token = await this.#current();
    if (token.dpop) return { name: 'Authorization', value: `DPoP ${token.value}`, token: token.value, dpop: true };
    return { name: 'Authorization', value: `Bearer ${token.value}`, token: token.value };
  }

  invalidate(token: string | undefined): void {
    if (token !== undefined && this.#token?.value === token) this.#token = undefined;
  }

  #current(): Promise<CachedToken> {
    const cached = this.#token;
    if (cached && Date.now() < cached.renewAt) return Promise.resolve(cached);
    this.#inflight ??= this.#fetchToken().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** RFC 8414: `/.well-known/oauth-authorization-server` inserted before the issuer's path. */
  #discover(): Promise<string> {
    this.#tokenEndpoint ??= (async () => {
      const issuer = new URL(this.authURL);
      const path = issuer.pathname.replace(/\/+$/, '');
      const url = `${issuer.origin}/.well-known/oauth-authorization-server${path}`;
      const r = await this.#send(url, { method: 'GET', headers: { Accept: 'application/json' } }, { retryable: true });
      const metadata = parseJSON(r.text) as { token_endpoint?: unknown } | undefined;
      if (typeof metadata?.token_endpoint !== 'string') {
        throw new CaseForgeError(`The authorization server metadata at ${url} names no token_endpoint.`);
      }
      return metadata.token_endpoint;
    })();
    this.#tokenEndpoint.catch(() => {
      this.#tokenEndpoint = undefined;
    });
    return this.#tokenEndpoint;
  }

  async #fetchToken(): Promise<CachedToken> {
    const endpoint = await this.#discover();
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (this.scopes && this.scopes.length > 0) form.set('scope', this.scopes.join(' '));
    const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
    const auth = this.#auth;
    if ('clientSecret' in auth) {
      // RFC 6749 §2.3.1: both parts form-urlencoded before Basic.
      headers['Authorization'] = `Basic ${btoa(`${formEncode(this.clientId)}:${formEncode(auth.clientSecret)}`)}`;
    }
    const dpop = this.#dpop;
    // Each attempt (a retry, the nonce retry) signs a new assertion and a new proof.
    const perAttempt: PerAttempt = () => {
      const out: { headers?: Record<string, string>; body?: string } = {};
      if ('signingKey' in auth) {
        // RFC 7523 §2.2; `aud` = the issuer identifier (contract §7 takes it or the endpoint's URL;
        // the issuer is what FAPI 2.0 and RFC 7523bis ask for).
        const body = new URLSearchParams(form);
        body.set('client_assertion_type', CLIENT_ASSERTION_TYPE);
        body.set('client_assertion', clientAssertion(auth.signingKey, this.clientId, this.authURL));
        out.body = body.toString();
      }
      if (dpop !== undefined) out.headers = { DPoP: dpop.proof('POST', endpoint) };
      return out;
    };
    const started = Date.now();
    let r;
    try {
      r = await this.#send(endpoint, { method: 'POST', headers, body: form.toString() }, { retryable: true, perAttempt });
    } catch (err) {
      // A refused client is an AuthenticationError whatever the status (400 or 401).
      if (err instanceof APIStatusError && err.code === 'invalid_client' && !(err instanceof AuthenticationError)) {
        throw new AuthenticationError(err.status, err.body, err.headers, err.requestId);
      }
      throw err;
    }
    const body = parseJSON(r.text) as { access_token?: unknown; expires_in?: unknown; token_type?: unknown } | undefined;
    if (typeof body?.access_token !== 'string') {
      throw new CaseForgeError('The token endpoint answered without an access_token.');
    }
    const lifetimeMs = (typeof body.expires_in === 'number' ? body.expires_in : 3600) * 1000;
    // Renew 5 minutes before expiry (or halfway, for tokens shorter than 10 minutes).
    const renewAt = started + lifetimeMs - Math.min(RENEW_BEFORE_MS, lifetimeMs / 2);
    const dpopBound = typeof body.token_type === 'string' && body.token_type.toLowerCase() === 'dpop';
    const token = { value: body.access_token, renewAt, dpop: dpopBound };
    this.#token = token;
    return token;
  }

  toJSON(): object {
    const auth = 'signingKey' in this.#auth ? { privateKey: this.#auth.signingKey.toJSON() } : {};
    return { kind: this.kind, clientId: this.clientId, scopes: this.scopes, authURL: this.authURL, ...auth, dpop: this.#dpop !== undefined };
  }
}

function formEncode(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, '+');
}

export function parseJSON(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
