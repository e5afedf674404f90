import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../../../api/client';
import type { components } from '../../../api/schema';
import { moveCard } from '../lib/board';

export type Board = components['schemas']['Board'];
export type BoardCard = components['schemas']['BoardCard'];
export type BoardColumn = components['schemas']['BoardColumn'];

export const BOARD_KEY = ['pipeline', 'board'] as const;

export function useBoard() {
  return useQuery({
    queryKey: BOARD_KEY,
    queryFn: () => unwrap(api.GET('/api/pipeline/board', { params: { query: { limit: 200 } } })),
  });
}

export interface MoveInput {
  id: string;
  stageId: string;
  lostReason?: string;
}

/**
 * Move an opportunity to another stage. The board shows the move at once; if
 * the server refuses, the previous board comes back and the error is raised.
 */
export function useMoveOpportunity() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, stageId, lostReason }: MoveInput) =>
      unwrap(api.PATCH('/api/opportunities/{id}', { params: { path: { id } }, body: { stage_id: stageId, ...(lostReason ? { lost_reason: lostReason } : {}) } })),
    onMutate: async ({ id, stageId, lostReason }) => {
      await client.cancelQueries({ queryKey: BOARD_KEY });
      const previous = client.getQueryData<Board>(BOARD_KEY);
      if (previous) client.setQueryData<Board>(BOARD_KEY, moveCard<BoardCard, Board>(previous, id, stageId, lostReason));
      return { previous };
    },
    onError: (_err, _vars, ctx) => {
      if (ctx?.previous) client.setQueryData(BOARD_KEY, ctx.previous);
    },
    onSettled: () => {
      void client.invalidateQueries({ queryKey: BOARD_KEY });
      void client.invalidateQueries({ queryKey: ['leads'] });
    },
  });
}
