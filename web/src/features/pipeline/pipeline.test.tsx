import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createEvent, fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { setCsrfToken } from '../../api/client';
import { changeLanguage } from '../../i18n';
import { CEO_PERMISSIONS, installFakeApi, sessionFor } from '../../test/fakeApi';
import { renderApp } from '../../test/renderApp';

beforeEach(async () => {
  await changeLanguage('es');
});
afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

const stage = (key: string, name: string, kind: string, probability: number) => ({ id: `s-${key}`, key, name, kind, position: 0, probability });
const card = { id: 'o1', lead_id: 'l1', lead_name: 'Ana López', owner_id: null, name: 'Plan anual', value_minor: 150000, currency: 'MXN', stage_id: 's-prospecting', stage_key: 'prospecting', stage_kind: 'open', probability: 10, created_at: '2026-11-01T00:00:00Z', updated_at: '2026-11-01T00:00:00Z' };

function board(inWon: boolean) {
  const total = [{ currency: 'MXN', value_minor: 150000, weighted_minor: 15000, count: 1 }];
  return {
    columns: [
      { stage: stage('prospecting', 'Prospecting', 'open', 10), items: inWon ? [] : [card], count: inWon ? 0 : 1, totals: inWon ? [] : total },
      { stage: stage('won', 'Won', 'won', 100), items: inWon ? [{ ...card, stage_id: 's-won', stage_key: 'won', stage_kind: 'won', probability: 100 }] : [], count: inWon ? 1 : 0, totals: inWon ? [{ ...total[0], weighted_minor: 150000 }] : [] },
      { stage: stage('lost', 'Lost', 'lost', 0), items: [], count: 0, totals: [] },
    ],
  };
}

function server(patchStatus: number) {
  let won = false;
  const session = sessionFor('ceo', CEO_PERMISSIONS);
  const api = installFakeApi({
    'GET /api/setup': () => ({ status: 200, body: { needs_setup: false } }),
    'GET /api/auth/me': () => ({ status: 200, body: session }),
    'GET /api/pipeline/board': () => ({ status: 200, body: board(won) }),
    'PATCH /api/opportunities/{id}': () => {
      if (patchStatus !== 200) return { status: patchStatus, body: { error: { code: 'invalid_stage', message: 'no se puede mover' } } };
      won = true;
      return { status: 200, body: board(true).columns[1]?.items[0] };
    },
  });
  return api;
}

describe('pipeline board', () => {
  it('drops a card on another stage: shows it there at once and sends the stage change', async () => {
    const { calls } = server(200);
    renderApp('/crm/pipeline');
    const wonCol = await screen.findByRole('listitem', { name: 'Ganada' });
    const cardEl = await screen.findByRole('article', { name: 'Plan anual' });
    const data = new Map<string, string>();
    const dataTransfer = { setData: (k: string, v: string) => data.set(k, v), getData: (k: string) => data.get(k) ?? '', effectAllowed: '', dropEffect: '' };
    fireEvent(cardEl, Object.assign(createEvent.dragStart(cardEl), { dataTransfer }));
    fireEvent(wonCol, Object.assign(createEvent.dragOver(wonCol), { dataTransfer }));
    fireEvent(wonCol, Object.assign(createEvent.drop(wonCol), { dataTransfer }));
    expect(await within(wonCol).findByRole('article', { name: 'Plan anual' })).toBeInTheDocument();
    await screen.findByText('Plan anual movida a Ganada');
    const patch = calls.find((c) => c.method === 'PATCH');
    expect(patch?.path).toBe('/api/opportunities/o1');
    expect(patch?.body).toEqual({ stage_id: 's-won' });
  });

  it('puts the card back when the server refuses the move (keyboard path)', async () => {
    server(422);
    renderApp('/crm/pipeline');
    const user = userEvent.setup({ delay: null });
    await user.selectOptions(await screen.findByLabelText('Mover Plan anual a'), 's-won');
    expect(await screen.findByText(/No se pudo mover Plan anual/)).toBeInTheDocument();
    await waitFor(() => expect(within(screen.getByRole('listitem', { name: 'Prospección' })).getByRole('article', { name: 'Plan anual' })).toBeInTheDocument());
    expect(within(screen.getByRole('listitem', { name: 'Ganada' })).queryByRole('article')).not.toBeInTheDocument();
  });

  it('asks for the lost reason before marking lost', async () => {
    const { calls } = server(200);
    renderApp('/crm/pipeline');
    const user = userEvent.setup({ delay: null });
    await user.click(await screen.findByRole('button', { name: 'Perdida' }));
    const dialog = screen.getByRole('dialog', { name: 'Marcar como perdida' });
    await user.type(within(dialog).getByLabelText('Motivo'), 'precio');
    await user.click(within(dialog).getByRole('button', { name: 'Marcar perdida' }));
    await waitFor(() => expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ stage_id: 's-lost', lost_reason: 'precio' }));
  });
});
