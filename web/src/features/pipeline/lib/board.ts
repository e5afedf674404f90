// Pure board state changes for the optimistic drag and drop: move a card to
// another stage and keep counts and per-currency totals right, so the UI can
// show the move at once and put the previous board back if the server refuses.

export interface CardLike {
  id: string;
  stage_id: string;
  stage_key: string;
  stage_kind: 'open' | 'won' | 'lost';
  value_minor: number;
  currency: string;
  probability: number;
  lost_reason?: string | null;
}

export interface TotalLike {
  currency: string;
  value_minor: number;
  weighted_minor: number;
  count: number;
}

export interface ColumnLike<C extends CardLike> {
  stage: { id: string; key: string; kind: 'open' | 'won' | 'lost'; probability: number };
  items: C[];
  count: number;
  totals: TotalLike[];
}

export interface BoardLike<C extends CardLike> {
  columns: ColumnLike<C>[];
}

function weighted(c: CardLike): number {
  return Math.floor((c.value_minor * c.probability) / 100);
}

function addTo(totals: TotalLike[], card: CardLike, sign: 1 | -1): TotalLike[] {
  const existing = totals.find((t) => t.currency === card.currency);
  const next = existing
    ? totals.map((t) =>
        t.currency === card.currency
          ? { ...t, value_minor: t.value_minor + sign * card.value_minor, weighted_minor: t.weighted_minor + sign * weighted(card), count: t.count + sign }
          : t,
      )
    : sign > 0
      ? [...totals, { currency: card.currency, value_minor: card.value_minor, weighted_minor: weighted(card), count: 1 }]
      : totals;
  return next.filter((t) => t.count > 0).sort((a, b) => a.currency.localeCompare(b.currency));
}

/** Where a card is: its column index and position, or null. */
export function findCard<C extends CardLike>(board: BoardLike<C>, cardId: string): { column: number; index: number; card: C } | null {
  for (let column = 0; column < board.columns.length; column++) {
    const items = board.columns[column]?.items ?? [];
    const index = items.findIndex((c) => c.id === cardId);
    if (index >= 0) return { column, index, card: items[index] as C };
  }
  return null;
}

/**
 * The board after moving a card to `toStageId` (placed first in the target
 * column, taking the stage's probability, like the server does). Returns the
 * same board when the card or stage is unknown or the card is already there.
 */
export function moveCard<C extends CardLike, B extends BoardLike<C>>(board: B, cardId: string, toStageId: string, lostReason?: string): B {
  const from = findCard(board, cardId);
  const target = board.columns.findIndex((c) => c.stage.id === toStageId);
  if (!from || target < 0 || from.column === target) return board;
  const stage = board.columns[target]?.stage;
  if (!stage) return board;
  const moved: C = {
    ...from.card,
    stage_id: stage.id,
    stage_key: stage.key,
    stage_kind: stage.kind,
    probability: stage.probability,
    lost_reason: stage.kind === 'lost' ? (lostReason ?? null) : null,
  };
  const columns = board.columns.map((col, i) => {
    if (i === from.column) {
      return { ...col, items: col.items.filter((c) => c.id !== cardId), count: Math.max(0, col.count - 1), totals: addTo(col.totals, from.card, -1) };
    }
    if (i === target) {
      return { ...col, items: [moved, ...col.items], count: col.count + 1, totals: addTo(col.totals, moved, 1) };
    }
    return col;
  });
  return { ...board, columns };
}

/** The stage of a given kind to use for "mark won" / "mark lost" (the first one). */
export function stageOfKind<C extends CardLike>(board: BoardLike<C>, kind: 'won' | 'lost'): string | null {
  return board.columns.find((c) => c.stage.kind === kind)?.stage.id ?? null;
}
