/** The promise every call returns, and the page of a list (the openai-node pattern). */
import { CaseForgeError } from './errors.js';
import type { Pagination } from './types.js';

/** An HTTP answer as the SDK received it (the body already read). */
export interface APIResponse {
  response: Response;
  /** The body as text (empty for 204). */
  text: string;
  /** The `X-Request-Id` the server echoed (the SDK's own when it did not echo one). */
  requestId: string;
}

/** A record as a single-record answer gives it, with its `ETag` (for `ifMatch`). */
export type WithETag<T> = T & {
  /** The record's strong entity tag, for `ifMatch` on `update` and the transitions. Not enumerable. */
  readonly etag?: string;
};

/**
 * What every method returns: await it for the parsed body, or call `.withResponse()` /
 * `.asResponse()` for the headers and status.
 */
export class APIPromise<T> extends Promise<T> {
  #parsed: Promise<T> | undefined;
  readonly #responsePromise: Promise<APIResponse>;
  readonly #parse: (r: APIResponse) => T | Promise<T>;

  constructor(responsePromise: Promise<APIResponse>, parse: (r: APIResponse) => T | Promise<T>) {
    super((resolve) => {
      // The real value comes from `then`, below; this resolves the unused base promise.
      resolve(null as unknown as T);
    });
    this.#responsePromise = responsePromise;
    this.#parse = parse;
  }

  // `then` of a subclass would otherwise construct this class again.
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  /** The raw `Response` (status, headers; the body can still be read once). */
  asResponse(): Promise<Response> {
    return this.#responsePromise.then(
      (r) => new Response(r.text === '' ? null : r.text, { status: r.response.status, statusText: r.response.statusText, headers: r.response.headers }),
    );
  }

  /** The parsed body together with the `Response` and the request id. */
  async withResponse(): Promise<{ data: T; response: Response; requestId: string }> {
    const [data, r] = await Promise.all([this.#parsedPromise(), this.#responsePromise]);
    return { data, response: r.response, requestId: r.requestId };
  }

  #parsedPromise(): Promise<T> {
    this.#parsed ??= this.#responsePromise.then((r) => this.#parse(r));
    return this.#parsed;
  }

  override then<TResult1 = T, TResult2 = never>(
    onfulfilled?: ((value: T) => TResult1 | PromiseLike<TResult1>) | null,
    onrejected?: ((reason: unknown) => TResult2 | PromiseLike<TResult2>) | null,
  ): Promise<TResult1 | TResult2> {
    return this.#parsedPromise().then(onfulfilled, onrejected);
  }

  override catch<TResult = never>(
    onrejected?: ((reason: unknown) => TResult | PromiseLike<TResult>) | null,
  ): Promise<T | TResult> {
    return this.#parsedPromise().catch(onrejected);
  }

  override finally(onfinally?: (() => void) | null): Promise<T> {
    return this.#parsedPromise().finally(onfinally);
  }
}

/** Query parameters of a list: filters, `page_size`, and `page`/`cursor` for where to start. */
export type ListQuery = Record<string, string | number | boolean | null | undefined>;

/** @internal How a page asks for the next one. */
export type PageFetcher<Item> = (query: ListQuery) => Promise<Page<Item>>;

/**
 * One page of a list. `data` holds its rows; `for await (const row of page)` walks this page and
 * every later one by cursor (resending the filters and `page_size`, never `page`).
 */
export class Page<Item> implements AsyncIterable<Item> {
  readonly data: Item[];
  readonly pagination: Pagination;
  readonly #query: ListQuery;
  readonly #fetchPage: PageFetcher<Item>;

  /** @internal */
  constructor(body: { data: Item[]; pagination: Pagination }, query: ListQuery, fetchPage: PageFetcher<Item>) {
    this.data = body.data;
    this.pagination = body.pagination;
    this.#query = query;
    this.#fetchPage = fetchPage;
  }

  /** The cursor of the next page (`null` on the last one). */
  get nextCursor(): string | null {
    return this.pagination.next_cursor ?? null;
  }

  hasNextPage(): boolean {
    return this.nextCursor != null && this.data.length > 0;
  }

  /** The query of the next page: the same filters and `page_size`, the cursor, no `page`. */
  nextPageQuery(): ListQuery | null {
    const cursor = this.nextCursor;
    if (cursor == null) return null;
    const { page: _page, cursor: _cursor, ...rest } = this.#query;
    return { ...rest, page_size: rest['page_size'] ?? this.pagination.page_size, cursor };
  }

  /** The next page; throws when there is none (check `hasNextPage()` first). */
  async getNextPage(): Promise<Page<Item>> {
    const query = this.nextPageQuery();
    if (query == null || !this.hasNextPage()) {
      throw new CaseForgeError('No next page: check hasNextPage() before getNextPage().');
    }
    return this.#fetchPage(query);
  }

  /** This page and every later one. */
  async *iterPages(): AsyncGenerator<Page<Item>, void, undefined> {
    let page: Page<Item> = this;
    yield page;
    while (page.hasNextPage()) {
      page = await page.getNextPage();
      yield page;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Item, void, undefined> {
    for await (const page of this.iterPages()) {
      for (const item of page.data) yield item;
    }
  }
}

/**
 * What `list` returns: await it for the first page, or `for await` over it for every row of
 * every page.
 */
export class PagePromise<Item> extends APIPromise<Page<Item>> implements AsyncIterable<Item> {
  async *[Symbol.asyncIterator](): AsyncGenerator<Item, void, undefined> {
    const page = await this;
    yield* page;
  }
}
