// The CommonJS view of the same types (a .cts file in a nodenext project).
import CaseForge = require('@caseforge/sdk');

const client = new CaseForge.CaseForge({ apiKey: 'cf_sand_x' });
export const list = client.cases.list({ priority: 'low' });
export const isNotFound = (e: unknown): boolean => e instanceof CaseForge.NotFoundError;
// @ts-expect-error 'urgent' is not a priority
client.cases.create({ title: 'x', priority: 'urgent' });
