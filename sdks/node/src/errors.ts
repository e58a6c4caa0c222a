/**
 * Errors thrown by the SDK. Every one is a `CaseForgeError`; everything about a request is an
 * `APIError`. None of them ever holds a credential: messages are built from the server's error
 * envelope, and no request header is kept.
 */

/** Base class of every error thrown by the SDK (including configuration mistakes). */
export class CaseForgeError extends Error {
  override name = 'CaseForgeError';
}

/** A request failed: no answer ({@link APIConnectionError}) or an error status ({@link APIStatusError}). */
export class APIError extends CaseForgeError {
  override name = 'APIError';
  /** The `X-Request-Id` of the request (the SDK sends its own, so it is known even without an answer). */
  readonly requestId: string | undefined;

  constructor(message: string, requestId?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.requestId = requestId;
  }
}

/** No HTTP answer: the connection failed or was dropped. */
export class APIConnectionError extends APIError {
  override name = 'APIConnectionError';
  constructor(message = 'Connection error.', requestId?: string, options?: { cause?: unknown }) {
    super(message, requestId, options);
  }
}

/** No answer within `timeout`. */
export class APITimeoutError extends APIConnectionError {
  override name = 'APITimeoutError';
  constructor(message = 'Request timed out.', requestId?: string, options?: { cause?: unknown }) {
    super(message, requestId, options);
  }
}

/** The server answered with a 4xx or 5xx status. */
export class APIStatusError extends APIError {
  override name = 'APIStatusError';
  /** The HTTP status code. */
  readonly status: number;
  /** The envelope's stable snake_case `error` code, e.g. `precondition_failed`. */
  readonly code: string | undefined;
  /** The envelope's `error_description`. */
  readonly description: string | undefined;
  /** The envelope's `details`, when the server gave some. */
  readonly details: unknown;
  /** The response headers. */
  readonly headers: Headers;
  /** The parsed body (the error envelope, or the raw text when it was not JSON). */
  readonly body: unknown;

  constructor(status: number, body: unknown, headers: Headers, requestId?: string) {
    const envelope = isEnvelope(body) ? body : undefined;
    const code = envelope?.error;
    const description = envelope?.error_description;
    super(
      `${status}${code ? ` ${code}` : ''}${description ? `: ${description}` : ''}`,
      headers.get('x-request-id') ?? requestId,
    );
    this.status = status;
    this.code = code;
    this.description = description;
    this.details = envelope?.details;
    this.headers = headers;
    this.body = body;
  }

  /** The right subclass for a status. */
  static from(status: number, body: unknown, headers: Headers, requestId?: string): APIStatusError {
    switch (status) {
      case 400:
        return new BadRequestError(status, body, headers, requestId);
      case 401:
        return new AuthenticationError(status, body, headers, requestId);
      case 403:
        return new PermissionDeniedError(status, body, headers, requestId);
      case 404:
        return new NotFoundError(status, body, headers, requestId);
      case 409:
        return new ConflictError(status, body, headers, requestId);
      case 412:
        return new PreconditionFailedError(status, body, headers, requestId);
      case 422:
        return new UnprocessableEntityError(status, body, headers, requestId);
      case 429:
        return new RateLimitError(status, body, headers, requestId);
      default:
        return status >= 500
          ? new InternalServerError(status, body, headers, requestId)
          : new APIStatusError(status, body, headers, requestId);
    }
  }
}

export class BadRequestError extends APIStatusError {
  override name = 'BadRequestError';
}
/** 401, and a token request refused (`invalid_client`: a wrong or rotated secret). */
export class AuthenticationError extends APIStatusError {
  override name = 'AuthenticationError';
}
export class PermissionDeniedError extends APIStatusError {
  override name = 'PermissionDeniedError';
}
export class NotFoundError extends APIStatusError {
  override name = 'NotFoundError';
}
/** 409. `code === 'busy'` is transient (retried by the SDK); `conflict` is final. */
export class ConflictError extends APIStatusError {
  override name = 'ConflictError';
}
/** 412: the record changed since the `ETag` sent as `ifMatch`. */
export class PreconditionFailedError extends APIStatusError {
  override name = 'PreconditionFailedError';
}
export class UnprocessableEntityError extends APIStatusError {
  override name = 'UnprocessableEntityError';
}
export class RateLimitError extends APIStatusError {
  override name = 'RateLimitError';
  /** Seconds to wait, from `Retry-After` (undefined when absent). */
  readonly retryAfter: number | undefined;

  constructor(status: number, body: unknown, headers: Headers, requestId?: string) {
    super(status, body, headers, requestId);
    this.retryAfter = parseRetryAfter(headers.get('retry-after'));
  }
}
/** Any 5xx. */
export class InternalServerError extends APIStatusError {
  override name = 'InternalServerError';
}

interface Envelope {
  error: string;
  error_description?: string;
  details?: unknown;
}

function isEnvelope(body: unknown): body is Envelope {
  return typeof body === 'object' && body !== null && typeof (body as Envelope).error === 'string';
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date; undefined when absent or invalid. */
export function parseRetryAfter(value: string | null | undefined): number | undefined {
  if (value == null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - Date.now()) / 1000);
}
