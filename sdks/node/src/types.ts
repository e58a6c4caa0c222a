/**
 * The SDK's names for the API's models: aliases of the types generated from the OpenAPI document
 * (`npm run generate` → `src/generated/resource-api.ts`). When the document renames a schema or
 * an operation, only the right-hand side of a line here changes.
 */
import type { components, operations } from './generated/resource-api.js';

type Schemas = components['schemas'];
type QueryOf<Op extends keyof operations> = NonNullable<operations[Op]['parameters']['query']>;

// Records.
export type Case = Schemas['Case'];
export type CaseEvent = Schemas['CaseEvent'];
export type Sar = Schemas['Sar'];
export type WatchlistEntry = Schemas['WatchlistEntry'];
export type Subject = Schemas['Subject'];
export type Transaction = Schemas['Transaction'];
export type Alert = Schemas['Alert'];
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
export type CaseListParams = QueryOf<'cases_list'>;
export type CaseHistoryParams = QueryOf<'cases_history'>;
export type SarListParams = QueryOf<'sars_list'>;
export type WatchlistListParams = QueryOf<'watchlist_list'>;
export type SubjectListParams = QueryOf<'subjects_list'>;
export type TransactionListParams = QueryOf<'transactions_list'>;
export type AlertListParams = QueryOf<'alerts_list'>;

// Who is calling (`client.me()`, `client.apiKeys.validate()`).
export type Me = Schemas['Me'];
export type ApiKeyValidation = Schemas['ApiKeyValidation'];
export type ValidatedApiKey = Schemas['ValidatedApiKey'];
export type Environment = Schemas['Environment'];
export type Tier = Schemas['Tier'];
export type PrincipalType = Schemas['PrincipalType'];
export type Scope = Schemas['Scope'];

// Webhooks (contract §8): `client.webhookEndpoints`.
export type WebhookEndpoint = Schemas['EndpointView'];
/** The answer of `create` and `rotateSecret`: the endpoint with its `whsec_` secret, shown that once. */
export type WebhookEndpointWithSecret = Schemas['EndpointWithSecret'];
export type WebhookDelivery = Schemas['DeliveryView'];
export type WebhookAttempt = Schemas['AttemptView'];
export type WebhookDeliveryStatus = Schemas['DeliveryStatus'];
export type WebhookEventType = Schemas['EventType'];
export type WebhookEndpointCreateParams = Schemas['CreateEndpoint'];
export type WebhookEndpointUpdateParams = Schemas['PatchEndpoint'];
export type WebhookEndpointRotateSecretParams = Schemas['RotateSecret'];
export type WebhookEndpointListParams = QueryOf<'webhook_endpoints_list'>;
export type WebhookDeliveryListParams = QueryOf<'webhook_endpoints_deliveries_list'>;
