import { describe, expect, it } from 'vitest';
import { draftToInput, emptyDraft, orderedKeys, placeholders, render, renderWith, validateDraft, type TemplateDraft } from './template';
import { conditionValue, draftToSpec, emptyRule, previewValues, ruleProblems, ruleToDraft, triggerSummary } from './rules';
import { displaySteps, logsToCsv } from './logs';
import type { Run } from '../api/types';

const draft = (over: Partial<TemplateDraft>): TemplateDraft => ({ ...emptyDraft(), name: 'welcome', body: 'Hola, gracias por escribir.', ...over });
const codes = (d: TemplateDraft) => validateDraft(d).map((p) => `${p.field}:${p.code}`);

describe('template placeholders', () => {
  it('parses numbered and named placeholders and refuses malformed ones', () => {
    expect(placeholders('Hi {{1}} and {{ 2 }}')).toEqual({ ok: true, vars: [{ kind: 'pos', n: 1 }, { kind: 'pos', n: 2 }] });
    expect(placeholders('Hi {{first_name}}')).toEqual({ ok: true, vars: [{ kind: 'named', name: 'first_name' }] });
    expect(placeholders('Hi {{0}}').ok).toBe(false);
    expect(placeholders('Hi {{Name}}').ok).toBe(false);
    expect(placeholders('Hi {{1').ok).toBe(false);
  });

  it('orders positional keys numerically ({{2}} before {{10}}) and named ones by appearance', () => {
    expect(orderedKeys('a {{10}} b {{2}} c {{1}} {{2}}')).toEqual(['1', '2', '10']);
    expect(orderedKeys('{{b}} x {{a}} {{b}}')).toEqual(['b', 'a']);
  });

  it('renders values and keeps missing placeholders visible', () => {
    expect(render('Hola {{1}}, soy {{2}}', { '1': 'Ana' })).toBe('Hola Ana, soy {{2}}');
  });
});

describe('template checks mirror the server', () => {
  it('accepts a valid template', () => {
    expect(codes(draft({ body: 'Hola {{1}}, tu turno es el {{2}}.', bodyExamples: { '1': 'Ana', '2': 'martes' } }))).toEqual([]);
  });

  it('flags each rule on its field', () => {
    expect(codes(draft({ name: 'Bienvenida Lead' }))).toEqual(['name:invalid_template_name']);
    expect(codes(draft({ language: 'spanish' }))).toEqual(['language:invalid_language']);
    expect(codes(draft({ language: 'es_AR' }))).toEqual([]);
    expect(codes(draft({ body: '' }))).toEqual(['body:body_empty']);
    expect(codes(draft({ body: 'x'.repeat(1025) }))).toEqual(['body:text_too_long']);
    expect(codes(draft({ body: 'Hola {{1}}' , bodyExamples: { '1': 'Ana' } }))).toEqual(['body:variable_at_edge']);
    expect(codes(draft({ body: 'Hola {{1}} y {{3}}.', bodyExamples: { '1': 'a', '3': 'b' } }))).toEqual(['body:placeholder_sequence']);
    expect(codes(draft({ body: 'Hola {{1}} y {{name}}.' }))).toEqual(['body:mixed_placeholders']);
    expect(codes(draft({ body: 'Hola {{name}}.' }))).toEqual(['body:parameter_format_mismatch']);
    expect(codes(draft({ body: 'Hola {{1}}.' }))).toEqual(['body:missing_example']);
    expect(codes(draft({ headerText: 'Hola {{1}} {{2}}' }))).toEqual(['header:header_variables']);
    expect(codes(draft({ footer: 'Responde {{1}}' }))).toEqual(['footer:footer_variables']);
    expect(codes(draft({ footer: 'x'.repeat(61) }))).toEqual(['footer:text_too_long']);
    expect(codes(draft({ buttons: [{ type: 'URL', text: 'Ver', url: 'ftp://x', phone: '', example: '' }] }))).toEqual(['buttons[0]:button_url']);
    expect(codes(draft({ buttons: [{ type: 'URL', text: 'Ver', url: 'https://x/{{1}}/y', phone: '', example: '' }] }))).toEqual(['buttons[0]:button_url_variable']);
    expect(codes(draft({ buttons: [{ type: 'QUICK_REPLY', text: 'x'.repeat(26), url: '', phone: '', example: '' }] }))).toEqual(['buttons[0]:text_too_long']);
    expect(codes(draft({ buttons: [{ type: 'PHONE_NUMBER', text: 'Llamar', url: '', phone: '+54 11', example: '' }] }))).toEqual(['buttons[0]:button_phone']);
  });

  it('builds the request with Meta example shapes', () => {
    const input = draftToInput(
      draft({
        headerText: 'Hola {{1}}',
        headerExamples: { '1': 'Ana' },
        body: 'Tu pedido {{1}} llega el {{2}}.',
        bodyExamples: { '1': '#12', '2': 'lunes' },
        footer: 'Acme',
        buttons: [{ type: 'URL', text: 'Seguir', url: 'https://acme.test/p/{{1}}', phone: '', example: 'https://acme.test/p/12' }],
      }),
    );
    expect(input.components).toEqual([
      { type: 'HEADER', format: 'TEXT', text: 'Hola {{1}}', example: { header_text: ['Ana'] } },
      { type: 'BODY', text: 'Tu pedido {{1}} llega el {{2}}.', example: { body_text: [['#12', 'lunes']] } },
      { type: 'FOOTER', text: 'Acme' },
      { type: 'BUTTONS', buttons: [{ type: 'URL', text: 'Seguir', url: 'https://acme.test/p/{{1}}', example: ['https://acme.test/p/12'] }] },
    ]);
    const named = draftToInput(draft({ parameterFormat: 'NAMED', body: 'Hola {{first_name}}.', bodyExamples: { first_name: 'Ana' } }));
    expect(named.parameter_format).toBe('NAMED');
    expect(named.components[0]).toEqual({ type: 'BODY', text: 'Hola {{first_name}}.', example: { body_text_named_params: [{ param_name: 'first_name', example: 'Ana' }] } });
  });

  it('renders a stored template with send values, header keys prefixed', () => {
    const parts = renderWith(
      [
        { type: 'HEADER', format: 'TEXT', text: 'Hola {{1}}' },
        { type: 'BODY', text: 'Pedido {{1}}' },
      ],
      { 'header.1': 'Ana', '1': '#9' },
    );
    expect(parts.header).toBe('Hola Ana');
    expect(parts.body).toBe('Pedido #9');
  });
});

describe('rules', () => {
  it('turns the form into a RuleSpec and back', () => {
    const d = {
      ...emptyRule(),
      name: ' Seguimiento ',
      triggerType: 'no_reply' as const,
      hours: 2,
      conditions: [
        { field: 'lead.source', op: 'in' as const, value: 'META_ADS, WEBSITE' },
        { field: 'lead.has_phone', op: 'eq' as const, value: 'true' },
        { field: 'lead.tags', op: 'exists' as const, value: 'x' },
      ],
      templateName: 'seguimiento',
      language: 'es',
      bindings: { '1': { source: 'lead.first_name', fallback: 'hola' }, '2': { source: 'fixed', value: 'Acme', fallback: ' ' }, stale: { source: 'tenant.name' } },
      quietOn: true,
      capOn: true,
      capMax: 2,
      capHours: 48,
    };
    const spec = draftToSpec(d, ['1', '2']);
    expect(spec).toMatchObject({
      name: 'Seguimiento',
      trigger: { type: 'no_reply', hours: 2 },
      conditions: [
        { field: 'lead.source', op: 'in', value: ['META_ADS', 'WEBSITE'] },
        { field: 'lead.has_phone', op: 'eq', value: true },
        { field: 'lead.tags', op: 'exists', value: null },
      ],
      action: { template_name: 'seguimiento', language: 'es', bindings: { '1': { source: 'lead.first_name', fallback: 'hola' }, '2': { source: 'fixed', value: 'Acme' } }, add_tag: null, set_status: null },
      quiet_hours: { start: '21:00', end: '09:00', timezone: 'lead' },
      frequency_cap: { max: 2, hours: 48 },
      enabled: true,
    });
    const back = ruleToDraft(spec);
    expect(back.triggerType).toBe('no_reply');
    expect(back.hours).toBe(2);
    expect(back.conditions[0]).toEqual({ field: 'lead.source', op: 'in', value: 'META_ADS, WEBSITE' });
    expect(back.capOn && back.quietOn).toBe(true);
  });

  it('refuses an unnamed rule, a missing template and empty fixed variables', () => {
    const d = { ...emptyRule(), bindings: { '1': { source: 'fixed', value: '' } } };
    expect(ruleProblems(d, ['1']).map((p) => p.field)).toEqual(['name', 'template', 'var.1']);
  });

  it('previews with sample data, fixed text and fallbacks', () => {
    expect(previewValues({ '1': { source: 'lead.first_name' }, '2': { source: 'fixed', value: 'Acme' }, '3': { source: 'nope', fallback: 'cliente' } })).toEqual({ '1': 'Ana', '2': 'Acme', '3': 'cliente' });
    expect(conditionValue({ field: 'lead.source', op: 'not_in', value: 'a,,b' })).toEqual(['a', 'b']);
  });

  it('summarises every trigger type', () => {
    expect(triggerSummary({ type: 'lead_created', source: 'META_ADS' })).toEqual({ key: 'lead_created_filtered', params: { filters: 'META_ADS' } });
    expect(triggerSummary({ type: 'date_relative', field: 'lead.created_at', offset_hours: -3 }).key).toBe('date_relative_before');
    expect(triggerSummary({ type: 'inactive', days: 7 })).toEqual({ key: 'inactive', params: { count: 7 } });
    expect(triggerSummary({ type: 'opportunity_won' }).key).toBe('opportunity_won');
  });
});

const run = (over: Partial<Run>): Run => ({
  id: 'r1',
  rule_id: 'rule1',
  rule_name: 'Bienvenida',
  lead_id: 'l1',
  lead_name: 'Ana',
  template_name: 'bienvenida',
  language: 'es',
  status: 'queued',
  timeline: [],
  run_at: '2026-11-21T10:00:00Z',
  created_at: '2026-11-21T10:00:00Z',
  updated_at: '2026-11-21T10:00:00Z',
  ...over,
});

describe('log timeline and CSV', () => {
  it('draws the happy path with the steps reached', () => {
    const r = run({ status: 'delivered', timeline: [{ status: 'queued', at: 'a' }, { status: 'sent', at: 'b' }, { status: 'delivered', at: 'c' }] as never });
    expect(displaySteps(r).map((s) => `${s.status}:${s.done}`)).toEqual(['queued:true', 'sent:true', 'delivered:true', 'read:false']);
    const q = run({ status: 'rescheduled', timeline: [{ status: 'queued', at: 'a' }, { status: 'rescheduled', at: 'b', reason: 'quiet_hours' }] as never });
    expect(displaySteps(q).map((s) => s.status)).toEqual(['queued', 'rescheduled', 'sent', 'delivered', 'read']);
  });

  it('ends a failed or skipped run at that step with its reason', () => {
    const r = run({ status: 'skipped', reason: 'opted_out', timeline: [{ status: 'queued', at: 'a' }] as never });
    expect(displaySteps(r)).toEqual([
      { status: 'queued', at: 'a', reason: null, done: true },
      { status: 'skipped', at: null, reason: 'opted_out', done: true },
    ]);
  });

  it('exports CSV with quoting and neutralised formulas', () => {
    const csv = logsToCsv([run({ status: 'failed', reason: 'meta_error', error_code: 131026, error_message: 'Message undeliverable, "bad"', lead_name: '=HYPERLINK("x")', timeline: [{ status: 'queued', at: 'a' }, { status: 'failed', at: 'b' }] as never })]);
    const [head, line] = csv.trim().split('\r\n');
    expect(head).toBe('created_at,run_at,rule,lead,lead_id,template,language,status,reason,error_code,error_message,wamid,timeline,rendered');
    expect(line).toContain(`"'=HYPERLINK(""x"")"`);
    expect(line).toContain('failed,meta_error,131026,"Message undeliverable, ""bad"""');
    expect(line).toContain('queued@a > failed@b');
  });
});

describe('lead panel message status', () => {
  it('shows the furthest status reached, from the status and the timestamps', async () => {
    const { effectiveStatus } = await import('./messages');
    expect(effectiveStatus({ status: 'delivered', sent_at: 'a', delivered_at: 'b', read_at: 'c' })).toBe('read');
    expect(effectiveStatus({ status: 'sending', sent_at: 'a' })).toBe('sent');
    expect(effectiveStatus({ status: 'failed', sent_at: 'a', delivered_at: 'b' })).toBe('failed');
    expect(effectiveStatus({ status: 'received' })).toBe('received');
  });
});
