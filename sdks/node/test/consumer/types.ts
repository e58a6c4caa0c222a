// Compiled by test/package.test.mjs with tsc (strict, module/moduleResolution nodenext) in a
// project that installed the packed tarball: the published .d.ts must type these calls and
// refuse the marked ones.
import CaseForge, { NotFoundError, type Case, type CasePriority, type Page } from '@caseforge/sdk';

const client = new CaseForge({ apiKey: 'cf_sand_x', baseURL: 'http://127.0.0.1:8080', maxRetries: 0, timeout: 1000 });

export async function typed(): Promise<void> {
  const page: Page<Case> = await client.cases.list({ status: 'open', priority: 'high', page_size: 50 });
  const first: Case | undefined = page.data[0];
  const p: CasePriority | undefined = first?.priority;
  if (page.hasNextPage()) await page.getNextPage();
  for await (const c of client.cases.list({ assignee: 'inv-1' })) {
    const status: 'open' | 'in_review' | 'escalated' | 'closed' = c.status;
    void status;
  }
  const created = await client.cases.create({ title: 'x', priority: 'critical' });
  const etag: string | undefined = created.etag;
  await client.cases.update(created.id, { priority: 'low' }, { ifMatch: etag });
  await client.cases.close(created.id, { resolution: 'done' });
  await client.sars.submit('sar_1');
  const screened = await client.watchlist.screen({ name: 'victor' });
  const score: number | undefined = screened.matches[0]?.score;
  const me = await client.me();
  const tier: 'basic' | 'standard' | 'professional' | 'enterprise' | 'unlimited' = me.tier;
  const { response } = await client.me().withResponse();
  const status: number = response.status;
  try {
    await client.cases.retrieve('x');
  } catch (e) {
    if (e instanceof NotFoundError) console.log(e.status, e.code, e.requestId);
    if (e instanceof CaseForge.RateLimitError) console.log(e.retryAfter);
  }
  void [p, score, tier, status];

  // @ts-expect-error 'urgent' is not a priority
  await client.cases.create({ title: 'x', priority: 'urgent' });
  // @ts-expect-error 'pending' is not a case status filter
  await client.cases.list({ status: 'pending' });
  // @ts-expect-error a case needs a title
  await client.cases.create({ priority: 'low' });
  // @ts-expect-error unknown option
  new CaseForge({ apiKey: 'k', baseUrl: 'http://x' });
}
