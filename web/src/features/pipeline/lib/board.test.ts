import { describe, expect, it } from 'vitest';
import { findCard, moveCard, stageOfKind, type BoardLike, type CardLike } from './board';

const stage = (id: string, kind: 'open' | 'won' | 'lost', probability: number) => ({ id, key: id, kind, probability });
const card = (id: string, stageId: string, value: number, currency = 'USD', probability = 10): CardLike => ({
  id,
  stage_id: stageId,
  stage_key: stageId,
  stage_kind: 'open',
  value_minor: value,
  currency,
  probability,
});

function board(): BoardLike<CardLike> {
  return {
    columns: [
      {
        stage: stage('prospecting', 'open', 10),
        items: [card('a', 'prospecting', 10_000), card('b', 'prospecting', 5_000, 'MXN')],
        count: 2,
        totals: [
          { currency: 'MXN', value_minor: 5_000, weighted_minor: 500, count: 1 },
          { currency: 'USD', value_minor: 10_000, weighted_minor: 1_000, count: 1 },
        ],
      },
      { stage: stage('won', 'won', 100), items: [card('c', 'won', 2_000, 'USD', 100)], count: 1, totals: [{ currency: 'USD', value_minor: 2_000, weighted_minor: 2_000, count: 1 }] },
      { stage: stage('lost', 'lost', 0), items: [], count: 0, totals: [] },
    ],
  };
}

describe('pipeline board moves', () => {
  it('moves a card to the top of the target stage with per-currency totals', () => {
    const before = board();
    const after = moveCard(before, 'a', 'won');
    expect(after.columns[0]?.items.map((c) => c.id)).toEqual(['b']);
    expect(after.columns[0]?.count).toBe(1);
    expect(after.columns[0]?.totals).toEqual([{ currency: 'MXN', value_minor: 5_000, weighted_minor: 500, count: 1 }]);
    expect(after.columns[1]?.items.map((c) => c.id)).toEqual(['a', 'c']);
    expect(after.columns[1]?.items[0]).toMatchObject({ stage_id: 'won', stage_kind: 'won', probability: 100 });
    expect(after.columns[1]?.totals).toEqual([{ currency: 'USD', value_minor: 12_000, weighted_minor: 12_000, count: 2 }]);
    // The previous board is untouched, so it can be restored on error.
    expect(before.columns[0]?.items.map((c) => c.id)).toEqual(['a', 'b']);
    expect(findCard(before, 'a')?.column).toBe(0);
  });

  it('never adds currencies together and records the lost reason', () => {
    const after = moveCard(moveCard(board(), 'b', 'lost', 'price'), 'a', 'lost', 'timing');
    expect(after.columns[2]?.totals).toEqual([
      { currency: 'MXN', value_minor: 5_000, weighted_minor: 0, count: 1 },
      { currency: 'USD', value_minor: 10_000, weighted_minor: 0, count: 1 },
    ]);
    expect(after.columns[2]?.items.map((c) => [c.id, c.lost_reason])).toEqual([
      ['a', 'timing'],
      ['b', 'price'],
    ]);
    expect(after.columns[0]?.totals).toEqual([]);
  });

  it('ignores unknown cards, unknown stages and moves to the same stage', () => {
    const b = board();
    expect(moveCard(b, 'zzz', 'won')).toBe(b);
    expect(moveCard(b, 'a', 'nope')).toBe(b);
    expect(moveCard(b, 'a', 'prospecting')).toBe(b);
    expect(stageOfKind(b, 'won')).toBe('won');
    expect(stageOfKind(b, 'lost')).toBe('lost');
  });
});
