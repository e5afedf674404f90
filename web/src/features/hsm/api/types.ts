// Names over the generated OpenAPI types used by the HSM feature.
import type { components } from '../../../api/schema';

type S = components['schemas'];

export type Template = S['TemplateView'];
export type TemplateDetail = S['TemplateDetail'];
export type TemplateComponent = S['Component'];
export type TemplateButton = S['Button'];
export type NewTemplate = S['NewTemplateInput'];
export type SyncReport = S['SyncReport'];
export type Rule = S['RuleView'];
export type RuleSpec = S['RuleSpec'];
export type Trigger = S['Trigger'];
export type Condition = S['Condition'];
export type ConditionOp = S['Op'];
export type Binding = S['Binding'];
export type QuietHours = S['QuietHours'];
export type FrequencyCap = S['FrequencyCap'];
export type DryRun = S['DryRunResult'];
export type DryRunItem = S['DryRunItem'];
export type Run = S['RunView'];
export type LeadMessaging = S['LeadMessaging'];
export type Message = S['MessageView'];
export type SendInput = S['SendInput'];
export type SendResult = S['SendView'];
export type HsmSettings = S['HsmSettings'];

export type TriggerType = Trigger['type'];

export const TRIGGER_TYPES: readonly TriggerType[] = ['lead_created', 'no_reply', 'status_changed', 'stage_changed', 'opportunity_won', 'date_relative', 'inactive'];
export const TEMPLATE_STATUSES = ['APPROVED', 'PENDING', 'REJECTED', 'PAUSED', 'DISABLED', 'DELETED'] as const;
export const CATEGORIES = ['MARKETING', 'UTILITY', 'AUTHENTICATION'] as const;
export const QUALITIES = ['GREEN', 'YELLOW', 'RED', 'UNKNOWN'] as const;
export const RUN_STATUSES = ['queued', 'rescheduled', 'paused', 'sending', 'held', 'sent', 'delivered', 'read', 'failed', 'dismissed', 'skipped'] as const;

/** Stable reason codes of the automation log (crm-core automation::rule::reason). */
export const REASONS = [
  'quiet_hours',
  'opted_out',
  'no_marketing_consent',
  'frequency_cap',
  'template_not_approved',
  'template_paused',
  'template_not_found',
  'no_recipient',
  'token_invalid',
  'conditions_not_met',
  'missing_variable',
  'parameter_count_mismatch',
  'rule_disabled',
  'not_connected',
  'replied',
  'meta_error',
  'outcome_unknown',
  'already_handled',
] as const;

/** Fields a condition may test (crm-core CONDITION_FIELDS). */
export const CONDITION_FIELDS = [
  'lead.source',
  'lead.channel',
  'lead.status',
  'lead.tags',
  'lead.owner_id',
  'lead.campaign_id',
  'lead.has_phone',
  'lead.has_whatsapp',
  'lead.country',
  'lead.opted_in',
  'opportunity.stage',
  'opportunity.status',
] as const;

export const CONDITION_OPS: readonly ConditionOp[] = ['eq', 'neq', 'in', 'not_in', 'contains', 'not_contains', 'exists', 'not_exists'];

/** Where a variable may take its value from (crm-core BINDING_SOURCES). */
export const BINDING_SOURCES = [
  'fixed',
  'lead.name',
  'lead.first_name',
  'lead.phone',
  'lead.email',
  'lead.status',
  'lead.source',
  'opportunity.title',
  'opportunity.stage',
  'opportunity.value',
  'seller.name',
  'seller.first_name',
  'tenant.name',
] as const;

/** Date fields of a `date_relative` trigger (crm-core DATE_FIELDS). */
export const DATE_FIELDS = ['lead.created_at', 'opportunity.expected_close_date', 'opportunity.created_at', 'opportunity.won_at'] as const;
