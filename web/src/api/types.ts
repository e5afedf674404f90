// Named aliases over the generated OpenAPI types. The generated file
// (`schema.d.ts`, from `npm run gen:api`) is the single source of truth;
// nothing here restates a field by hand.
import type { components } from './schema';

type Schemas = components['schemas'];

/** What `/api/auth/me`, login and setup answer. */
export type SessionInfo = Schemas['SessionView'];
/** A cookie session always has a user and a CSRF token (API-token sessions do not). */
export type UserSession = SessionInfo & { user: User; csrf_token: string };
export type User = Schemas['UserView'];
export type Role = Schemas['Role'];
export type Permission = Schemas['Permission'];
export type Tenant = Schemas['TenantView'];
export type ApiToken = Schemas['ApiTokenView'];
export type CreatedToken = Schemas['CreatedToken'];
export type AuditEntry = Schemas['AuditEntry'];
export type AuditPage = Schemas['Page_AuditEntry'];
export type SetupRequest = Schemas['SetupInput'];
export type CreateUserRequest = Schemas['NewUser'];
export type UpdateUserRequest = Schemas['UserPatch'];
export type UpdateTenantRequest = Schemas['TenantPatch'];

export const ROLES: readonly Role[] = ['ceo', 'admin', 'marketing', 'seller'];

export function isUserSession(info: SessionInfo | null | undefined): info is UserSession {
  return !!info && !!info.user && typeof info.csrf_token === 'string';
}
export type SessionItem = Schemas['SessionItem'];
export type PasswordChange = Schemas['PasswordChange'];
export type ResetIssued = Schemas['ResetIssued'];
