/** Credentials: an API key, or an OAuth 2.0 client-credentials token kept fresh. */
import { APIStatusError, AuthenticationError, CaseForgeError } from './errors.js';

/** Renew a token this long before it expires. */
export const RENEW_BEFORE_MS = 5 * 60 * 1000;

/** What a request sends, and which token it was (for renewing after a 401). */
export interface AuthHeader {
  name: string;
  value: string;
  token?: string;
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

/** Sends one request to the auth server (with the client's retries and timeout). */
export type AuthRequest = (url: string, init: RequestInit & { headers: Record<string, string> }, opts: { retryable: boolean }) => Promise<{ response: Response; text: string; requestId: string }>;

interface CachedToken {
  value: string;
  renewAt: number;
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
  readonly #clientSecret: string;
  readonly #send: AuthRequest;
  #token: CachedToken | undefined;
  #inflight: Promise<CachedToken> | undefined;
  #tokenEndpoint: Promise<string> | undefined;

  constructor(clientId: string, clientSecret: string, scopes: string[] | undefined, authURL: string, send: AuthRequest) {
    this.clientId = clientId;
    this.#clientSecret = clientSecret;
    this.scopes = scopes;
    this.authURL = authURL;
    this.#send = send;
  }

  async header(): Promise<AuthHeader> {
    const token = await this.#current();
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
    // RFC 6749 §2.3.1: both parts form-urlencoded before Basic.
    const basic = btoa(`${formEncode(this.clientId)}:${formEncode(this.#clientSecret)}`);
    const started = Date.now();
    let r;
    try {
      r = await this.#send(
        endpoint,
        {
          method: 'POST',
          headers: {
            Authorization: `Basic ${basic}`,
            'Content-Type': 'application/x-www-form-urlencoded',
            Accept: 'application/json',
          },
          body: form.toString(),
        },
        { retryable: true },
      );
    } catch (err) {
      // A refused client is an AuthenticationError whatever the status (400 or 401).
      if (err instanceof APIStatusError && err.code === 'invalid_client' && !(err instanceof AuthenticationError)) {
        throw new AuthenticationError(err.status, err.body, err.headers, err.requestId);
      }
      throw err;
    }
    const body = parseJSON(r.text) as { access_token?: unknown; expires_in?: unknown } | undefined;
    if (typeof body?.access_token !== 'string') {
      throw new CaseForgeError('The token endpoint answered without an access_token.');
    }
    const lifetimeMs = (typeof body.expires_in === 'number' ? body.expires_in : 3600) * 1000;
    // Renew 5 minutes before expiry (or halfway, for tokens shorter than 10 minutes).
    const renewAt = started + lifetimeMs - Math.min(RENEW_BEFORE_MS, lifetimeMs / 2);
    const token = { value: body.access_token, renewAt };
    this.#token = token;
    return token;
  }

  toJSON(): object {
    return { kind: this.kind, clientId: this.clientId, scopes: this.scopes, authURL: this.authURL };
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
