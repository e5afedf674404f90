// Rule editing helpers: a form draft <-> the RuleSpec the API takes, trigger
// summaries, condition values, and the sample data of the variable preview.

import type { Binding, Condition, ConditionOp, Rule, RuleSpec, Trigger, TriggerType } from '../api/types';

export interface ConditionDraft {
  field: string;
  op: ConditionOp;
  value: string;
}

export interface RuleDraft {
  name: string;
  triggerType: TriggerType;
  source: string;
  channel: string;
  campaignId: string;
  hours: number;
  days: number;
  to: string;
  dateField: string;
  offsetHours: number;
  conditions: ConditionDraft[];
  templateName: string;
  language: string;
  bindings: Record<string, Binding>;
  addTag: string;
  setStatus: string;
  delayMinutes: number;
  quietOn: boolean;
  quietStart: string;
  quietEnd: string;
  quietZone: string;
  capOn: boolean;
  capMax: number;
  capHours: number;
  enabled: boolean;
}

export function emptyRule(): RuleDraft {
  return {
    name: '',
    triggerType: 'lead_created',
    source: '',
    channel: '',
    campaignId: '',
    hours: 24,
    days: 30,
    to: '',
    dateField: 'lead.created_at',
    offsetHours: 24,
    conditions: [],
    templateName: '',
    language: '',
    bindings: {},
    addTag: '',
    setStatus: '',
    delayMinutes: 0,
    quietOn: false,
    quietStart: '21:00',
    quietEnd: '09:00',
    quietZone: 'lead',
    capOn: false,
    capMax: 1,
    capHours: 24,
    enabled: true,
  };
}

function conditionValueText(c: Condition): string {
  const v: unknown = c.value;
  if (Array.isArray(v)) return v.map(String).join(', ');
  if (v === null || v === undefined) return '';
  return String(v);
}

export function ruleToDraft(r: RuleSpec): RuleDraft {
  const d = emptyRule();
  const t = r.trigger;
  d.name = r.name;
  d.triggerType = t.type;
  if (t.type === 'lead_created') {
    d.source = t.source ?? '';
    d.channel = t.channel ?? '';
    d.campaignId = t.campaign_id ?? '';
  } else if (t.type === 'no_reply') d.hours = t.hours;
  else if (t.type === 'status_changed' || t.type === 'stage_changed') d.to = t.to ?? '';
  else if (t.type === 'date_relative') {
    d.dateField = t.field;
    d.offsetHours = t.offset_hours;
  } else if (t.type === 'inactive') d.days = t.days;
  d.conditions = (r.conditions ?? []).map((c) => ({ field: c.field, op: c.op, value: conditionValueText(c) }));
  d.templateName = r.action.template_name;
  d.language = r.action.language;
  d.bindings = { ...(r.action.bindings ?? {}) };
  d.addTag = r.action.add_tag ?? '';
  d.setStatus = r.action.set_status ?? '';
  d.delayMinutes = r.delay_minutes ?? 0;
  if (r.quiet_hours) {
    d.quietOn = true;
    d.quietStart = r.quiet_hours.start;
    d.quietEnd = r.quiet_hours.end;
    d.quietZone = r.quiet_hours.timezone ?? 'lead';
  }
  if (r.frequency_cap) {
    d.capOn = true;
    d.capMax = r.frequency_cap.max;
    d.capHours = r.frequency_cap.hours;
  }
  d.enabled = r.enabled ?? false;
  return d;
}

const BOOL_FIELDS = new Set(['lead.has_phone', 'lead.has_whatsapp', 'lead.opted_in']);

/** The JSON value of a condition typed in the form. */
export function conditionValue(c: ConditionDraft): unknown {
  if (c.op === 'exists' || c.op === 'not_exists') return null;
  if (c.op === 'in' || c.op === 'not_in') return c.value.split(',').map((s) => s.trim()).filter(Boolean);
  const v = c.value.trim();
  if (BOOL_FIELDS.has(c.field) || v === 'true' || v === 'false') return v !== 'false';
  return v;
}

function triggerOf(d: RuleDraft): Trigger {
  const opt = (s: string) => (s.trim() ? s.trim() : null);
  switch (d.triggerType) {
    case 'lead_created':
      return { type: 'lead_created', source: opt(d.source), channel: opt(d.channel), campaign_id: opt(d.campaignId) };
    case 'no_reply':
      return { type: 'no_reply', hours: d.hours };
    case 'status_changed':
      return { type: 'status_changed', to: opt(d.to) };
    case 'stage_changed':
      return { type: 'stage_changed', to: opt(d.to) };
    case 'opportunity_won':
      return { type: 'opportunity_won' };
    case 'date_relative':
      return { type: 'date_relative', field: d.dateField, offset_hours: d.offsetHours };
    case 'inactive':
      return { type: 'inactive', days: d.days };
  }
}

/** The request body; bindings are limited to the template's variables. */
export function draftToSpec(d: RuleDraft, variables: readonly string[] | null): RuleSpec {
  const bindings: Record<string, Binding> = {};
  for (const [k, b] of Object.entries(d.bindings)) {
    if (variables && !variables.includes(k)) continue;
    bindings[k] = {
      source: b.source,
      ...(b.source === 'fixed' ? { value: b.value ?? '' } : {}),
      ...(b.fallback?.trim() ? { fallback: b.fallback.trim() } : {}),
    };
  }
  return {
    name: d.name.trim(),
    trigger: triggerOf(d),
    conditions: d.conditions.map((c) => ({ field: c.field, op: c.op, value: conditionValue(c) as Condition['value'] })),
    action: {
      template_name: d.templateName,
      language: d.language,
      bindings,
      add_tag: d.addTag.trim() || null,
      set_status: d.setStatus || null,
    },
    delay_minutes: Math.max(0, Math.round(d.delayMinutes)),
    quiet_hours: d.quietOn ? { start: d.quietStart, end: d.quietEnd, timezone: d.quietZone } : null,
    frequency_cap: d.capOn ? { max: Math.max(0, Math.round(d.capMax)), hours: Math.max(0, Math.round(d.capHours)) } : null,
    enabled: d.enabled,
  };
}

/** What the editor refuses before asking the server (which re-checks everything). */
export function ruleProblems(d: RuleDraft, variables: readonly string[] | null): { field: string; key: string; params?: Record<string, string> }[] {
  const out: { field: string; key: string; params?: Record<string, string> }[] = [];
  if (!d.name.trim()) out.push({ field: 'name', key: 'nameRequired' });
  if (!d.templateName) out.push({ field: 'template', key: 'templateRequired' });
  for (const k of variables ?? []) {
    const b = d.bindings[k];
    if (!b || (b.source === 'fixed' && !b.value?.trim())) out.push({ field: `var.${k}`, key: 'variableRequired', params: { key: k } });
  }
  d.conditions.forEach((c, i) => {
    if (c.op !== 'exists' && c.op !== 'not_exists' && !c.value.trim()) out.push({ field: `cond.${i}`, key: 'valueRequired' });
  });
  return out;
}

/** Sample facts for the variable preview. */
export const SAMPLE_FACTS: Record<string, string> = {
  'lead.name': 'Ana López',
  'lead.first_name': 'Ana',
  'lead.phone': '+5491155550000',
  'lead.email': 'ana@example.com',
  'lead.status': 'new',
  'lead.source': 'META_ADS',
  'opportunity.title': 'Plan anual',
  'opportunity.stage': 'proposal',
  'opportunity.value': '1200',
  'seller.name': 'Marta Díaz',
  'seller.first_name': 'Marta',
  'tenant.name': 'Acme',
};

/** The preview value of each variable with sample data (fixed text, sample fact, else fallback). */
export function previewValues(bindings: Record<string, Binding>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, b] of Object.entries(bindings)) {
    const v = b.source === 'fixed' ? (b.value ?? '') : (SAMPLE_FACTS[b.source] ?? '');
    out[k] = v.trim() ? v : (b.fallback ?? '');
  }
  return out;
}

/** A sensible first binding for a variable key. */
export function defaultBinding(key: string, index: number): Binding {
  if (key.startsWith('button.')) return { source: 'fixed', value: '' };
  if (key.includes('name') || index === 0) return { source: 'lead.first_name', fallback: '' };
  if (key.includes('seller') || key.includes('vendedor')) return { source: 'seller.first_name', fallback: '' };
  return { source: 'fixed', value: '' };
}

/** i18n key and params summarising a rule's trigger. */
export function triggerSummary(t: Trigger): { key: string; params: Record<string, string | number> } {
  switch (t.type) {
    case 'lead_created': {
      const f = [t.source, t.channel, t.campaign_id].filter((x): x is string => !!x);
      return f.length ? { key: 'lead_created_filtered', params: { filters: f.join(', ') } } : { key: 'lead_created', params: {} };
    }
    case 'no_reply':
      return { key: 'no_reply', params: { count: t.hours } };
    case 'status_changed':
      return t.to ? { key: 'status_changed', params: { to: t.to } } : { key: 'status_changed_any', params: {} };
    case 'stage_changed':
      return t.to ? { key: 'stage_changed', params: { to: t.to } } : { key: 'stage_changed_any', params: {} };
    case 'opportunity_won':
      return { key: 'opportunity_won', params: {} };
    case 'date_relative':
      return { key: t.offset_hours < 0 ? 'date_relative_before' : 'date_relative_after', params: { count: Math.abs(t.offset_hours), field: t.field } };
    case 'inactive':
      return { key: 'inactive', params: { count: t.days } };
  }
}

export type { Rule };
