import { beforeEach, describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { changeLanguage } from '../../../i18n';
import type { LeadFormDetail, MappingTarget } from '../api/marketing';
import { duplicateKeys, LeadFormMappingEditor } from './LeadForms';
import '../i18n';

const TARGETS: MappingTarget[] = ['full_name', 'first_name', 'last_name', 'email', 'phone', 'note', 'tag', 'ignore'];

function form(over: Partial<LeadFormDetail> = {}): LeadFormDetail {
  return {
    form_id: '900001',
    page_id: '150001',
    page_name: 'Tienda Demo',
    name: 'Tienda Demo - Formulario 1',
    status: 'ACTIVE',
    customized: false,
    updated_at: null,
    updated_by: null,
    targets: TARGETS,
    questions: [
      { key: 'full_name', label: 'Full name', type: 'FULL_NAME', target: 'full_name', default_target: 'full_name' },
      { key: 'email', label: 'Email', type: 'EMAIL', target: 'email', default_target: 'email' },
      { key: 'phone_number', label: 'Phone number', type: 'PHONE', target: 'phone', default_target: 'phone' },
      { key: 'plan_de_interes', label: '¿Qué plan te interesa?', type: 'CUSTOM', target: 'note', default_target: 'note' },
    ],
    ...over,
  };
}

beforeEach(async () => {
  await changeLanguage('es');
});

describe('duplicateKeys', () => {
  it('flags a second question on the same contact field, never note/tag/ignore', () => {
    const qs = [{ key: 'a' }, { key: 'b' }, { key: 'c' }, { key: 'd' }];
    expect(duplicateKeys(qs, { a: 'email', b: 'email', c: 'note', d: 'note' })).toEqual(['b']);
    expect(duplicateKeys(qs, { a: 'tag', b: 'tag', c: 'ignore', d: 'ignore' })).toEqual([]);
  });
});

describe('LeadFormMappingEditor', () => {
  it('shows each question with its target and saves the edited mapping', async () => {
    const onSave = vi.fn();
    render(<LeadFormMappingEditor form={form()} canManage onSave={onSave} onReset={vi.fn()} />);
    expect(screen.getByText(/usa el mapeo predeterminado/)).toBeTruthy();
    const plan = screen.getByLabelText('¿Qué plan te interesa?') as HTMLSelectElement;
    expect(plan.value).toBe('note');
    await userEvent.selectOptions(plan, 'tag');
    await userEvent.selectOptions(screen.getByLabelText('Email'), 'ignore');
    await userEvent.click(screen.getByRole('button', { name: /Guardar mapeo/ }));
    expect(onSave).toHaveBeenCalledWith({ full_name: 'full_name', email: 'ignore', phone_number: 'phone', plan_de_interes: 'tag' });
  });

  it('refuses two questions on one contact field before saving', async () => {
    const onSave = vi.fn();
    render(<LeadFormMappingEditor form={form()} canManage onSave={onSave} onReset={vi.fn()} />);
    await userEvent.selectOptions(screen.getByLabelText('¿Qué plan te interesa?'), 'phone');
    expect(screen.getByRole('alert').textContent).toMatch(/Otra pregunta ya va a «Teléfono»/);
    expect((screen.getByRole('button', { name: /Guardar mapeo/ }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('shows the server error, resets, and is read-only without marketing.manage', async () => {
    const onReset = vi.fn();
    const error = new Error('"ciudad" is not a question of the form');
    const { unmount } = render(
      <LeadFormMappingEditor form={form({ customized: true, updated_at: '2026-11-21T10:00:00Z' })} canManage error={error} onSave={vi.fn()} onReset={onReset} />,
    );
    expect(screen.getByText(/Mapeo personalizado/)).toBeTruthy();
    expect(screen.getByRole('alert').textContent).toContain('"ciudad" is not a question of the form');
    await userEvent.click(screen.getByRole('button', { name: /Restablecer predeterminado/ }));
    expect(onReset).toHaveBeenCalled();
    unmount();
    render(<LeadFormMappingEditor form={form()} canManage={false} onSave={vi.fn()} onReset={vi.fn()} />);
    expect((screen.getByLabelText('Email') as HTMLSelectElement).disabled).toBe(true);
    expect(screen.queryByRole('button', { name: /Guardar mapeo/ })).toBeNull();
  });

  it('speaks English too', async () => {
    await changeLanguage('en');
    render(<LeadFormMappingEditor form={form()} canManage onSave={vi.fn()} onReset={vi.fn()} />);
    expect(screen.getByRole('button', { name: /Save mapping/ })).toBeTruthy();
    expect(screen.getAllByRole('option', { name: /Lead note/ }).length).toBeGreaterThan(0);
  });
});
