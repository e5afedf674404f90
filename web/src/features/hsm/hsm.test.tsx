import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { setCsrfToken } from '../../api/client';
import { changeLanguage } from '../../i18n';
import { CEO_PERMISSIONS, SELLER_PERMISSIONS, installFakeApi, sessionFor, type Handler } from '../../test/fakeApi';
import { renderApp } from '../../test/renderApp';
import { idempotencyKey } from './components/LeadMessagingPanel';

beforeEach(async () => {
  await changeLanguage('en');
});
afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

const tpl = (over: Record<string, unknown>) => ({
  id: 't1',
  meta_id: '900',
  name: 'bienvenida',
  language: 'es',
  category: 'UTILITY',
  status: 'APPROVED',
  parameter_format: 'POSITIONAL',
  components: [{ type: 'BODY', text: 'Hola {{1}}, gracias por escribir.' }],
  variables: ['1'],
  needs_marketing_consent: false,
  quality: 'GREEN',
  rejected_reason: null,
  previous_category: null,
  category_changed_at: null,
  synced_at: null,
  updated_at: '2026-11-20T10:00:00Z',
  ...over,
});

const TEMPLATES = [
  tpl({}),
  tpl({ id: 't2', name: 'promo_black_friday', category: 'MARKETING', previous_category: 'UTILITY', status: 'REJECTED', quality: null, rejected_reason: 'INVALID_FORMAT', needs_marketing_consent: true }),
];

const rule = {
  id: 'r1',
  name: 'Bienvenida Meta',
  trigger: { type: 'lead_created', source: 'META_ADS' },
  conditions: [],
  action: { template_name: 'bienvenida', language: 'es', bindings: { '1': { source: 'lead.first_name', fallback: 'hola' } } },
  delay_minutes: 0,
  quiet_hours: { start: '21:00', end: '09:00', timezone: 'lead' },
  frequency_cap: null,
  enabled: false,
  starter_key: 'welcome_meta_lead',
  last_7_days: { sent: 1234, skipped: 5, failed: 1 },
  created_at: '2026-11-20T10:00:00Z',
  updated_at: '2026-11-20T10:00:00Z',
};

function server(routes: Record<string, Handler>, permissions: string[] = [...CEO_PERMISSIONS], role: 'ceo' | 'seller' = 'ceo') {
  const session = sessionFor(role, permissions);
  return installFakeApi({
    'GET /api/setup': () => ({ status: 200, body: { needs_setup: false } }),
    'GET /api/auth/me': () => ({ status: 200, body: session }),
    'GET /api/crm/marketing/token-status': () => ({ status: 200, body: { connected: true, status: 'ok', missing_scopes: [], scopes: [] } }),
    'GET /api/crm/marketing/hsm/settings': () => ({ status: 200, body: { opt_out_keywords: ['STOP'], opt_in_keywords: [], messages_per_second: 80, paused_reason: null } }),
    'GET /api/crm/marketing/hsm/templates': (req) => ({ status: 200, body: { items: TEMPLATES.filter((x) => !req.query.get('status') || x.status === req.query.get('status')), next_cursor: null } }),
    'GET /api/crm/marketing/automation/rules': () => ({ status: 200, body: [rule] }),
    ...routes,
  });
}

describe('HSM Automation page', () => {
  it('lists templates with status, category, quality badges, the rejection reason and Meta category change', async () => {
    server({});
    renderApp('/crm/hsm');
    const table = await screen.findByRole('table', { name: 'Templates' });
    const rows = within(table).getAllByRole('row');
    expect(rows[1]).toHaveTextContent('bienvenida');
    expect(rows[1]).toHaveTextContent('Approved');
    expect(rows[1]).toHaveTextContent('High quality');
    expect(rows[2]).toHaveTextContent('Rejected');
    expect(rows[2]).toHaveTextContent('Rejection reason: INVALID_FORMAT');
    expect(rows[2]).toHaveTextContent('Meta changed the category from Utility to Marketing');
  });

  it('shows a template with its preview and status history', async () => {
    server({
      'GET /api/crm/marketing/hsm/templates/{id}': () => ({
        status: 200,
        body: {
          ...TEMPLATES[1],
          history: [
            { kind: 'status', from_value: null, to_value: 'PENDING', source: 'create', at: '2026-11-20T10:00:00Z' },
            { kind: 'status', from_value: 'PENDING', to_value: 'REJECTED', source: 'webhook', reason: 'INVALID_FORMAT', at: '2026-11-20T11:00:00Z' },
          ],
        },
      }),
    });
    const user = userEvent.setup();
    renderApp('/crm/hsm');
    const table = await screen.findByRole('table', { name: 'Templates' });
    await user.click(within(within(table).getAllByRole('row')[2]!).getByRole('button', { name: 'View' }));
    const dialog = await screen.findByRole('dialog');
    expect(await within(dialog).findByTestId('wa-preview')).toHaveTextContent('Hola {{1}}, gracias por escribir.');
    const items = within(dialog).getAllByRole('listitem');
    expect(items[0]).toHaveTextContent('Status: — → PENDING');
    expect(items[1]).toHaveTextContent('Status: PENDING → REJECTED');
    expect(items[1]).toHaveTextContent('(Meta webhook)');
    expect(items[1]).toHaveTextContent('INVALID_FORMAT');
  });

  it('filters by status through the API', async () => {
    const { calls } = server({});
    renderApp('/crm/hsm');
    await screen.findByRole('table', { name: 'Templates' });
    await userEvent.selectOptions(screen.getByRole('combobox', { name: 'Status' }), 'REJECTED');
    await waitFor(() => expect(calls.some((c) => c.path === '/api/crm/marketing/hsm/templates' && c.query.get('status') === 'REJECTED')).toBe(true));
  });

  it('creates a template with a live preview, refuses bad input locally, and puts a server error on its field', async () => {
    const { calls } = server({
      'POST /api/crm/marketing/hsm/templates': () => ({ status: 422, body: { error: { code: 'text_too_long', message: 'footer has 70 characters; Meta allows at most 60', details: { field: 'footer' } } } }),
    });
    const user = userEvent.setup();
    renderApp('/crm/hsm');
    await user.click(await screen.findByTestId('templates-new'));
    const form = screen.getByTestId('template-form');
    await user.type(within(form).getByLabelText('Name'), 'Bad Name');
    await user.click(within(form).getByLabelText(/^Body/));
    expect(within(form).getByText('Use only lowercase letters, digits and underscores (1 to 512).')).toBeInTheDocument();
    await user.clear(within(form).getByLabelText('Name'));
    await user.type(within(form).getByLabelText('Name'), 'pedido_listo');
    await user.type(within(form).getByLabelText(/^Body/), 'Tu pedido {{{{1}} está listo, *gracias*.');
    await user.click(screen.getByTestId('template-submit'));
    expect(within(form).getByText('Every variable needs an example.')).toBeInTheDocument();
    expect(calls.some((c) => c.method === 'POST')).toBe(false);
    await user.type(within(form).getByLabelText('Example for {{1}}'), '#1234');
    const preview = within(form).getByTestId('wa-preview');
    expect(preview).toHaveTextContent('Tu pedido #1234 está listo, gracias.');
    expect(within(preview).getByText('gracias').tagName).toBe('STRONG');
    await user.click(screen.getByTestId('template-submit'));
    await waitFor(() => expect(form.querySelector('[data-field="footer"]')).toHaveTextContent('footer has 70 characters; Meta allows at most 60'));
    const post = calls.find((c) => c.method === 'POST');
    expect(post?.body).toMatchObject({ name: 'pedido_listo', language: 'es', category: 'UTILITY', components: [{ type: 'BODY', example: { body_text: [['#1234']] } }] });
  });

  it('lists rules with toggles and last-7-days counts formatted by Intl, and toggles one', async () => {
    const { calls } = server({
      'POST /api/crm/marketing/automation/rules/{id}/toggle': (req) => ({ status: 200, body: { ...rule, enabled: (req.body as { enabled: boolean }).enabled } }),
    });
    const user = userEvent.setup();
    renderApp('/crm/hsm?tab=rules');
    const row = (await screen.findAllByTestId('rule-row'))[0]!;
    expect(row).toHaveTextContent('1,234 sent');
    expect(row).toHaveTextContent('5 skipped');
    expect(row).toHaveTextContent('1 failed');
    expect(row).toHaveTextContent('Lead created (META_ADS)');
    expect(row).toHaveTextContent('quiet 21:00–09:00');
    const toggle = within(row).getByRole('switch');
    expect(toggle).not.toBeChecked();
    await user.click(toggle);
    await waitFor(() => expect(toggle).toBeChecked());
    expect(calls.find((c) => c.path.endsWith('/toggle'))?.body).toEqual({ enabled: true });
  });

  it('edits a rule with a rendered variable preview, saves it and shows the dry run', async () => {
    const { calls } = server({
      'PUT /api/crm/marketing/automation/rules/{id}': (req) => ({ status: 200, body: { ...rule, ...(req.body as object) } }),
      'POST /api/crm/marketing/automation/rules/{id}/dry-run': () => ({
        status: 200,
        body: {
          rule_id: 'r1',
          evaluated: 2,
          would_send: 1,
          would_skip: 1,
          items: [
            { lead_id: 'l1', lead_name: 'Ana López', outcome: 'would_send', rendered: 'Hola Ana, gracias por escribir.' },
            { lead_id: 'l2', lead_name: 'Luis Pérez', outcome: 'would_skip', reason: 'opted_out', detail: 'opted out by STOP' },
          ],
        },
      }),
    });
    const user = userEvent.setup();
    renderApp('/crm/hsm?tab=rules');
    const row = (await screen.findAllByTestId('rule-row'))[0]!;
    await user.click(within(row).getByRole('button', { name: 'Edit' }));
    const editor = await screen.findByTestId('rule-editor');
    await waitFor(() => expect(within(editor).getByTestId('wa-preview')).toHaveTextContent('Hola Ana, gracias por escribir.'));
    await user.selectOptions(within(editor).getByLabelText('Variable 1'), 'fixed');
    await user.type(within(editor).getByLabelText('Fixed text 1'), 'amigo');
    expect(within(editor).getByTestId('wa-preview')).toHaveTextContent('Hola amigo, gracias por escribir.');
    await user.selectOptions(within(editor).getByTestId('rule-trigger'), 'no_reply');
    await user.clear(within(editor).getByLabelText('Hours without reply'));
    await user.type(within(editor).getByLabelText('Hours without reply'), '2');
    await user.click(within(editor).getByRole('button', { name: 'Save and dry-run' }));
    const dry = await screen.findByTestId('dry-run');
    expect(dry).toHaveTextContent('Evaluated 2: 1 would receive the message, 1 would be skipped.');
    const items = within(dry).getAllByTestId('dry-item');
    expect(items[0]).toHaveTextContent('Hola Ana, gracias por escribir.');
    expect(items[1]).toHaveTextContent('Opted out');
    expect(items[1]).toHaveTextContent('opted out by STOP');
    const put = calls.find((c) => c.method === 'PUT');
    expect(put?.body).toMatchObject({ trigger: { type: 'no_reply', hours: 2 }, action: { bindings: { '1': { source: 'fixed', value: 'amigo' } } } });
  });

  it('shows the log with status timelines, reasons and Meta errors, filtered by reason', async () => {
    const runs = [
      { id: 'a', rule_id: 'r1', rule_name: 'Bienvenida Meta', lead_id: 'l1', lead_name: 'Ana López', template_name: 'bienvenida', language: 'es', status: 'read', reason: null, timeline: [{ status: 'queued', at: '2026-11-21T10:00:00Z' }, { status: 'sent', at: '2026-11-21T10:00:01Z' }, { status: 'delivered', at: '2026-11-21T10:00:02Z' }, { status: 'read', at: '2026-11-21T10:00:03Z' }], run_at: '2026-11-21T10:00:00Z', created_at: '2026-11-21T10:00:00Z', updated_at: '2026-11-21T10:00:03Z' },
      { id: 'b', rule_id: 'r1', rule_name: 'Bienvenida Meta', lead_id: 'l2', lead_name: 'Luis Pérez', template_name: 'bienvenida', language: 'es', status: 'failed', reason: 'meta_error', error_code: 131026, error_message: 'Message undeliverable', timeline: [{ status: 'queued', at: '2026-11-21T10:00:00Z' }, { status: 'failed', at: '2026-11-21T10:00:01Z' }], run_at: '2026-11-21T10:00:00Z', created_at: '2026-11-21T10:00:00Z', updated_at: '2026-11-21T10:00:01Z' },
    ];
    const { calls } = server({ 'GET /api/crm/marketing/automation-logs': () => ({ status: 200, body: { items: runs, next_cursor: null } }) });
    const user = userEvent.setup();
    renderApp('/crm/hsm?tab=logs');
    const rows = await screen.findAllByTestId('log-row');
    const steps = (i: number) => within(rows[i]!).getByTestId('run-timeline').querySelectorAll('li');
    expect([...steps(0)].map((li) => `${li.dataset.status}:${li.dataset.done}`)).toEqual(['queued:true', 'sent:true', 'delivered:true', 'read:true']);
    expect([...steps(1)].map((li) => li.dataset.status)).toEqual(['queued', 'failed']);
    expect(rows[1]).toHaveTextContent('Meta error 131026: Message undeliverable');
    expect(within(rows[0]!).getByRole('link', { name: 'Ana López' })).toHaveAttribute('href', '/crm/leads/l1');
    await user.selectOptions(screen.getByRole('combobox', { name: 'All reasons' }), 'opted_out');
    await waitFor(() => expect(calls.some((c) => c.path === '/api/crm/marketing/automation-logs' && c.query.get('reason') === 'opted_out')).toBe(true));
  });

  it('warns when automation is paused for the company and resumes it', async () => {
    const { calls } = server({
      'GET /api/crm/marketing/hsm/settings': () => ({ status: 200, body: { opt_out_keywords: ['STOP', 'BAJA'], opt_in_keywords: ['ALTA'], messages_per_second: 80, paused_reason: 'token_invalid' } }),
      'PUT /api/crm/marketing/hsm/settings': () => ({ status: 200, body: { opt_out_keywords: ['STOP', 'BAJA'], opt_in_keywords: ['ALTA'], messages_per_second: 80, paused_reason: null } }),
    });
    const user = userEvent.setup();
    renderApp('/crm/hsm');
    const banner = await screen.findByTestId('hsm-paused');
    expect(banner).toHaveTextContent('Automation is paused: Meta token invalid.');
    await user.click(within(banner).getByRole('button', { name: 'Resume' }));
    await waitFor(() => expect(screen.queryByTestId('hsm-paused')).toBeNull());
    expect(calls.find((c) => c.method === 'PUT')?.body).toEqual({ opt_out_keywords: ['STOP', 'BAJA'], opt_in_keywords: ['ALTA'], messages_per_second: 80, resume: true });
  });

  it('is not in a seller’s menu', async () => {
    server({}, SELLER_PERMISSIONS, 'seller');
    renderApp('/');
    await screen.findAllByRole('link', { name: 'Leads' });
    expect(screen.queryByRole('link', { name: 'HSM Automation' })).toBeNull();
  });
});

describe('LeadMessagingPanel on the lead page', () => {
  const lead = {
    id: 'l1', name: 'Ana López', phone: '+5491155501234', email: null, wa_id: '5491155501234', bsuid: null, status: 'new', owner_id: null, tags: [], lead_source: 'META_ADS', channel: 'click_to_whatsapp',
    meta_campaign_id: null, meta_adset_id: null, meta_ad_id: '120202', meta_ad_headline: null, meta_ad_body: null, meta_source_url: null, meta_lead_id: null, meta_form_id: null, ctwa_clid: 'ARA', utm_source: null, utm_medium: null, utm_campaign: null, utm_content: null, utm_term: null, fbclid: null, external_ids: {},
    consent: { state: 'unknown', opt_in_at: null, opt_in_method: null, opt_out_at: null, opt_out_method: null }, last_inbound_at: '2026-11-21T10:00:00Z', whatsapp_window_until: '2099-11-22T10:00:00Z', timezone: 'UTC', created_at: '2026-11-21T10:00:00Z', updated_at: '2026-11-21T10:00:00Z',
  };
  const messaging = {
    lead_id: 'l1',
    reachable: true,
    window: { open: true, expires_at: '2099-11-22T10:00:00Z', last_inbound_at: '2026-11-21T10:00:00Z' },
    consent: { opted_in: false, opted_out: false, marketing_only_opt_out: false, can_receive_marketing: false, can_receive_utility: true, opt_out_method: null },
    messages: [
      { id: 'm1', lead_id: 'l1', direction: 'in', kind: 'text', body: 'Hola, quiero info', status: 'received', created_at: '2026-11-21T10:00:00Z', referral: { source_id: '120202', headline: 'Plan anual -20%', body: 'Escríbenos', source_url: 'https://fb.me/ad' } },
      { id: 'm2', lead_id: 'l1', direction: 'out', kind: 'template', body: 'Hola Ana, gracias por escribir.', template_name: 'bienvenida', rule_id: 'r1', status: 'read', created_at: '2026-11-21T10:00:05Z', sent_at: '2026-11-21T10:00:06Z', read_at: '2026-11-21T10:01:00Z' },
      { id: 'm3', lead_id: 'l1', direction: 'out', kind: 'template', body: 'Oferta', template_name: 'promo', status: 'failed', error_code: 131050, error_message: 'user opted out of marketing', created_at: '2026-11-21T10:02:00Z' },
    ],
  };

  function leadServer(routes: Record<string, Handler> = {}) {
    return server({
      'GET /api/team': () => ({ status: 200, body: { items: [] } }),
      'GET /api/leads/{id}': () => ({ status: 200, body: { lead, owner_name: null, touches: [], opportunities: [] } }),
      'GET /api/leads/{id}/timeline': () => ({ status: 200, body: { items: [], next_cursor: null } }),
      'GET /api/sales': () => ({ status: 200, body: { items: [], next_cursor: null } }),
      'GET /api/crm/marketing/hsm/leads/{id}/messages': () => ({ status: 200, body: messaging }),
      ...routes,
    });
  }

  it('shows the conversation with statuses, the ad of the inbound message, the window and the consent', async () => {
    leadServer();
    renderApp('/crm/leads/l1');
    const panel = await screen.findByTestId('lead-messaging');
    const msgs = await within(panel).findAllByTestId('lead-message');
    expect(msgs).toHaveLength(3);
    expect(within(msgs[0]!).getByTestId('message-referral')).toHaveTextContent('Plan anual -20%');
    expect(msgs[1]).toHaveAttribute('data-status', 'read');
    expect(within(msgs[1]!).getByLabelText('Read')).toBeInTheDocument();
    expect(msgs[2]).toHaveTextContent('Error 131050: user opted out of marketing');
    expect(within(panel).getByTestId('lead-window')).toHaveTextContent('Open until');
    expect(within(panel).getByTestId('lead-consent')).toHaveTextContent('No consent recorded');
    expect(within(panel).getByTestId('lead-consent')).toHaveTextContent('Marketing not allowed');
  });

  it('sends a template with variables and a preview, and explains a refusal', async () => {
    const { calls } = leadServer({
      'POST /api/crm/marketing/hsm/templates/{id}/send': () => ({ status: 409, body: { error: { code: 'opted_out', message: 'the lead opted out' } } }),
    });
    const user = userEvent.setup();
    renderApp('/crm/leads/l1');
    await user.click(await screen.findByTestId('lead-send-template'));
    const dialog = await screen.findByRole('dialog');
    await user.selectOptions(await within(dialog).findByTestId('lead-send-template-pick'), 't1');
    await user.type(within(dialog).getByLabelText('Variable {{1}}'), 'Ana');
    expect(within(dialog).getByTestId('wa-preview')).toHaveTextContent('Hola Ana, gracias por escribir.');
    await user.click(within(dialog).getByTestId('lead-send-submit'));
    expect(await within(dialog).findByTestId('lead-send-error')).toHaveTextContent('The lead opted out: it cannot be sent.');
    expect(calls.find((c) => c.method === 'POST' && c.path.endsWith('/send'))?.body).toEqual({ lead_id: 'l1', variables: { '1': 'Ana' } });
  });

  it('shows a send Meta never confirmed as unconfirmed, in Spanish, and lets the seller resend or dismiss it', async () => {
    await changeLanguage('es');
    const held = { id: 'm4', lead_id: 'l1', direction: 'out', kind: 'template', body: 'Hola Ana', template_name: 'bienvenida', status: 'held', error_message: 'Meta did not confirm this message: it may or may not have been delivered', created_at: '2026-11-21T10:03:00Z' };
    const { calls } = leadServer({
      'GET /api/crm/marketing/hsm/leads/{id}/messages': () => ({ status: 200, body: { ...messaging, messages: [...messaging.messages, held] } }),
      'POST /api/crm/marketing/hsm/messages/{id}/resend': () => ({ status: 200, body: { message: { ...held, status: 'sent', error_message: null }, window: messaging.window } }),
      'POST /api/crm/marketing/hsm/messages/{id}/dismiss': () => ({ status: 200, body: { ...held, status: 'dismissed' } }),
    });
    const user = userEvent.setup();
    renderApp('/crm/leads/l1');
    const note = await screen.findByTestId('message-held');
    expect(note).toHaveTextContent('Meta no confirmó este mensaje: puede que se haya entregado o no.');
    expect(note).not.toHaveTextContent('may or may not');
    await user.click(within(note).getByTestId('message-resend'));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST' && c.path === '/api/crm/marketing/hsm/messages/m4/resend')).toBe(true));
    await user.click(within(note).getByTestId('message-dismiss'));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST' && c.path === '/api/crm/marketing/hsm/messages/m4/dismiss')).toBe(true));
  });
});

describe('idempotencyKey', () => {
  it('is the same for a repeated send and differs when the template or a value changes', () => {
    const a = idempotencyKey('d1', 't1', { '1': 'Ana', '2': 'Marta' });
    expect(idempotencyKey('d1', 't1', { '2': 'Marta', '1': 'Ana' })).toBe(a);
    expect(idempotencyKey('d1', 't1', { '1': 'Ana', '2': 'Marto' })).not.toBe(a);
    expect(idempotencyKey('d1', 't2', { '1': 'Ana', '2': 'Marta' })).not.toBe(a);
    expect(idempotencyKey('d2', 't1', { '1': 'Ana', '2': 'Marta' })).not.toBe(a);
    expect(a).toMatch(/^[\x21-\x7e]{1,255}$/);
  });
});
