// Named aliases over the generated OpenAPI types. The generated file
// (`schema.d.ts`, from `npm run gen:api`) is the single source of truth;
// nothing here restates a field by hand.
import type { components } from './schema';

type Schemas = components['schemas'];

export type SessionInfo = Schemas['SessionInfo'];
export type User = Schemas['User'];
export type Role = User['role'];
export type UserStatus = User['status'];
export type Tenant = Schemas['Tenant'];
export type ApiToken = Schemas['ApiToken'];
export type CreatedToken = Schemas['CreatedToken'];
export type AuditEntry = Schemas['AuditEntry'];
export type AuditPage = Schemas['AuditPage'];
export type SetupRequest = Schemas['SetupRequest'];
export type CreateUserRequest = Schemas['CreateUserRequest'];
export type UpdateUserRequest = Schemas['UpdateUserRequest'];
export type UpdateTenantRequest = Schemas['UpdateTenantRequest'];

export const ROLES: readonly Role[] = ['ceo', 'admin', 'marketing', 'seller'];
