/**
 * Keys the client signs with, on `node:crypto` alone: a private key for `private_key_jwt` client
 * assertions (RFC 7523 §2.2) and a DPoP key for proofs (RFC 9449 §4).
 *
 * The algorithm follows the key, as the server pins it (contract §7): EC P-256 → ES256, Ed25519 →
 * EdDSA, RSA ≥ 2048 bits → PS256. Anything else is refused when the client is built.
 */
import { constants, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, type JsonWebKey, type KeyObject } from 'node:crypto';

import { CaseForgeError } from './errors.js';

/** RFC 7523 lets the client pick `exp` (the server allows ≤ 60 min); 5 minutes, as Okta's SDKs. */
export const ASSERTION_LIFETIME_S = 300;
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A private key: PEM text (PKCS#8, SEC 1 or PKCS#1, unencrypted), a `KeyObject`, or a private JWK. */
export type PrivateKeyInput = string | Buffer | KeyObject | JsonWebKey;

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function encodeJSON(value: unknown): string {
  return b64url(JSON.stringify(value));
}

/** A private key and its JWS algorithm; shows neither in `inspect` nor in JSON. */
export class SigningKey {
  readonly alg: 'ES256' | 'EdDSA' | 'PS256';
  readonly kid: string | undefined;
  readonly #key: KeyObject;

  constructor(input: PrivateKeyInput, keyId?: string) {
    let key: KeyObject;
    let jwkKid: string | undefined;
    try {
      if (typeof input === 'string' || Buffer.isBuffer(input)) {
        const text = input.toString().trim();
        if (text.startsWith('{')) {
          const jwk = JSON.parse(text) as JsonWebKey;
          jwkKid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
          key = fromJWK(jwk);
        } else {
          key = createPrivateKey({ key: text, format: 'pem' });
        }
      } else if (isKeyObject(input)) {
        key = input;
      } else {
        jwkKid = typeof input.kid === 'string' ? input.kid : undefined;
        key = fromJWK(input);
      }
    } catch (err) {
      if (err instanceof CaseForgeError) throw err;
      const encrypted = /passphrase/i.test(String((err as Error)?.message));
      throw new CaseForgeError(
        encrypted
          ? 'privateKey: the PEM is encrypted; decrypt it first (createPrivateKey({ key, passphrase })) and pass the KeyObject.'
          : 'privateKey: not a PEM private key (PKCS#8, SEC 1 or PKCS#1), a private JWK or a KeyObject.',
      );
    }
    if (key.type !== 'private') {
      throw new CaseForgeError('privateKey: this is a public key; give the private key (register the public one).');
    }
    const details = key.asymmetricKeyDetails ?? {};
    switch (key.asymmetricKeyType) {
      case 'ec':
        if (details.namedCurve !== 'prime256v1') {
          throw new CaseForgeError(`privateKey: EC keys must be on P-256 (ES256), not ${String(details.namedCurve)}.`);
        }
        this.alg = 'ES256';
        break;
      case 'ed25519':
        this.alg = 'EdDSA';
        break;
      case 'rsa':
        if ((details.modulusLength ?? 0) < 2048) {
          throw new CaseForgeError(`privateKey: RSA keys must have at least 2048 bits (this one has ${String(details.modulusLength)}).`);
        }
        this.alg = 'PS256';
        break;
      default:
        throw new CaseForgeError('privateKey: an EC P-256, Ed25519 or RSA (≥ 2048 bits) private key is needed.');
    }
    this.#key = key;
    this.kid = keyId ?? jwkKid;
  }

  sign(input: string): Buffer {
    const data = Buffer.from(input, 'ascii');
    if (this.alg === 'ES256') return sign('sha256', data, { key: this.#key, dsaEncoding: 'ieee-p1363' });
    if (this.alg === 'EdDSA') return sign(null, data, this.#key);
    // PS256: RSASSA-PSS, SHA-256, MGF1-SHA-256, a 32-byte salt (RFC 7518 §3.5).
    return sign('sha256', data, { key: this.#key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  }

  /** The public half as a JWK (no `kid`, no private member). */
  publicJWK(): JsonWebKey {
    const jwk = createPublicKey(this.#key).export({ format: 'jwk' });
    const { kty, crv, x, y, n, e } = jwk;
    return Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined)) as JsonWebKey;
  }

  jws(header: Record<string, unknown>, claims: Record<string, unknown>): string {
    const input = `${encodeJSON(header)}.${encodeJSON(claims)}`;
    return `${input}.${b64url(this.sign(input))}`;
  }

  toJSON(): object {
    return { alg: this.alg, kid: this.kid };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SigningKey { alg: '${this.alg}', kid: ${this.kid === undefined ? 'undefined' : `'${this.kid}'`} }`;
  }
}

function isKeyObject(value: unknown): value is KeyObject {
  return typeof value === 'object' && value !== null && 'asymmetricKeyType' in value && 'export' in value && typeof (value as { type?: unknown }).type === 'string';
}

function fromJWK(jwk: JsonWebKey): KeyObject {
  if (typeof jwk.d !== 'string') {
    throw new CaseForgeError('privateKey: this JWK has no private part (`d`); give the private key, register the public one.');
  }
  return createPrivateKey({ key: jwk, format: 'jwk' });
}

/** An RFC 7523 §3 assertion: `iss` = `sub` = the client id, `aud` the issuer, 5 minutes, a new `jti`. */
export function clientAssertion(key: SigningKey, clientId: string, audience: string, nowS = Math.floor(Date.now() / 1000)): string {
  const header: Record<string, unknown> = { alg: key.alg, typ: 'JWT' };
  if (key.kid !== undefined) header['kid'] = key.kid;
  return key.jws(header, { iss: clientId, sub: clientId, aud: audience, iat: nowS, exp: nowS + ASSERTION_LIFETIME_S, jti: randomUUID() });
}

/**
 * One client's DPoP key (RFC 9449): a fresh P-256 key made with the client, kept in memory only;
 * a new proof for every request; the latest `DPoP-Nonce` of each server (by origin).
 */
export class DPoPKey {
  readonly #key: SigningKey;
  readonly #jwk: JsonWebKey;
  readonly #nonces = new Map<string, string>();

  constructor() {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#key = new SigningKey(privateKey);
    this.#jwk = this.#key.publicJWK();
  }

  get publicJWK(): JsonWebKey {
    return { ...this.#jwk };
  }

  /** RFC 7638 thumbprint: the `cnf.jkt` of the tokens bound to this key. */
  get thumbprint(): string {
    const { crv, kty, x, y } = this.#jwk;
    return createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
  }

  /** A proof of `method` `url` (query and fragment dropped), with `ath` when a token is given. */
  proof(method: string, url: string, accessToken?: string): string {
    const claims: Record<string, unknown> = { jti: randomUUID(), htm: method.toUpperCase(), htu: htu(url), iat: Math.floor(Date.now() / 1000) };
    if (accessToken !== undefined) claims['ath'] = createHash('sha256').update(accessToken, 'ascii').digest('base64url');
    const nonce = this.#nonces.get(new URL(url).origin);
    if (nonce !== undefined) claims['nonce'] = nonce;
    return this.#key.jws({ typ: 'dpop+jwt', alg: 'ES256', jwk: this.#jwk }, claims);
  }

  /** Remembers a server's `DPoP-Nonce` (RFC 9449 §8.2: any answer may carry a new one). */
  noteNonce(url: string, nonce: string | null): void {
    if (nonce) this.#nonces.set(new URL(url).origin, nonce);
  }

  toJSON(): object {
    return { jkt: this.thumbprint };
  }
}

/** RFC 9449 §4.2: the URL without query and fragment. */
export function htu(url: string): string {
  const u = new URL(url);
  u.search = '';
  u.hash = '';
  return u.toString();
}
