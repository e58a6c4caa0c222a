/**
 * The SDK's names for the API's models: aliases of the types generated from the OpenAPI document
 * (`npm run generate` → `src/generated/resource-api.ts`). When the document renames a schema or
 * an operation, only the right-hand side of a line here changes.
 */
import type { components, operations } from './generated/resource-api.js';

type Schemas = components['schemas'];
type QueryOf<Op extends keyof operations> = NonNullable<operations[Op]['parameters']['query']>;

// Records.
export type Case = Schemas['CaseView'];
export type CaseEvent = Schemas['CaseEventView'];
export type Sar = Schemas['SarView'];
export type WatchlistEntry = Schemas['EntryView'];
export type Subject = Schemas['SubjectView'];
export type Transaction = Schemas['TransactionView'];
export type Alert = Schemas['AlertView'];
export type ScreenMatch = Schemas['ScreenMatch'];
export type ScreenResponse = Schemas['ScreenResponse'];
export type Pagination = Schemas['Pagination'];
export type ErrorBody = Schemas['ErrorBody'];

// Closed sets (string-literal unions).
export type CaseStatus = Schemas['CaseStatus'];
export type CasePriority = Schemas['CasePriority'];
export type CaseAction = Schemas['CaseAction'];
export type SarStatus = Schemas['SarStatus'];
export type EntryType = Schemas['EntryType'];
export type RiskLevel = Schemas['RiskLevel'];
export type Direction = Schemas['Direction'];
export type AlertStatus = Schemas['AlertStatus'];
export type AlertSeverity = Schemas['AlertSeverity'];
export type Currency = Schemas['Currency'];
export type Amount = Schemas['Amount'];

// Request bodies.
export type CaseCreateParams = Schemas['CreateCase'];
export type CaseUpdateParams = Schemas['PatchCase'];
export type CaseAssignParams = Schemas['AssignCase'];
export type CaseCloseParams = Schemas['CloseCase'];
export type SarCreateParams = Schemas['CreateSar'];
export type SarUpdateParams = Schemas['PatchSar'];
export type WatchlistCreateParams = Schemas['CreateEntry'];
export type WatchlistUpdateParams = Schemas['PatchEntry'];
export type WatchlistScreenParams = Schemas['ScreenRequest'];
export type SubjectCreateParams = Schemas['CreateSubject'];
export type SubjectUpdateParams = Schemas['PatchSubject'];

// List filters (query parameters).
export type CaseListParams = QueryOf<'list'>;
export type CaseHistoryParams = QueryOf<'history'>;
export type SarListParams = QueryOf<'list_sars'>;
export type WatchlistListParams = QueryOf<'list_watchlist'>;
export type SubjectListParams = QueryOf<'list_subjects'>;
export type TransactionListParams = QueryOf<'transactions'>;
export type AlertListParams = QueryOf<'alerts'>;

// Not yet described by the served document (no response schema for these two routes); written
// from docs/CONTRACT.md §4.4. Replace with the generated schemas once the document has them.
export type Environment = 'live' | 'sandbox';
export type Tier = 'basic' | 'standard' | 'professional' | 'enterprise' | 'unlimited';
export interface Me {
  principal_type: 'application' | 'api_key';
  id: string;
  environment: Environment;
  scopes: string[];
  tier: Tier;
}
export interface ApiKeyValidation {
  valid: boolean;
  api_key: Record<string, unknown>;
}
