import { useState, type DragEvent, type FormEvent, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { Kanban } from 'lucide-react';
import { Button, Dialog, EmptyState, ErrorState, LoadingState, PageHeader, TextField, errorMessage, useToast } from '../../../shared/ui';
import { hasPermission, useSession } from '../../../shared/session';
import { useBoard, useMoveOpportunity, type BoardCard, type BoardColumn } from '../api/pipeline';
import { stageOfKind } from '../lib/board';
import { formatMinor } from '../lib/money';
import '../pipeline.css';

const DRAG_TYPE = 'application/x-crm-opportunity';

// Stage names the server creates for every tenant (crm-core DEFAULT_STAGES);
// shown translated until a tenant renames them.
const DEFAULT_STAGE_NAMES: Record<string, string> = {
  prospecting: 'Prospecting',
  qualification: 'Qualification',
  proposal: 'Proposal',
  negotiation: 'Negotiation',
  won: 'Won',
  lost: 'Lost',
};

export function useStageLabel() {
  const { t } = useTranslation('pipeline');
  return (stage: { key: string; name: string }) => (DEFAULT_STAGE_NAMES[stage.key] === stage.name ? t(`stages.${stage.key}`) : stage.name);
}

export default function PipelinePage() {
  const { t, i18n } = useTranslation('pipeline');
  const { t: tc } = useTranslation();
  const session = useSession();
  const toast = useToast();
  const board = useBoard();
  const move = useMoveOpportunity();
  const canMove = hasPermission(session, 'pipeline.write');
  const [dragging, setDragging] = useState<string | null>(null);
  const [over, setOver] = useState<string | null>(null);
  const [losing, setLosing] = useState<{ card: BoardCard; stageId: string } | null>(null);
  const [reason, setReason] = useState('');

  const stageLabel = useStageLabel();
  const columns = board.data?.columns ?? [];
  const stageName = (id: string) => {
    const stage = columns.find((c) => c.stage.id === id)?.stage;
    return stage ? stageLabel(stage) : '';
  };

  const requestMove = (card: BoardCard, stageId: string) => {
    if (card.stage_id === stageId) return;
    const target = columns.find((c) => c.stage.id === stageId);
    if (!target) return;
    if (target.stage.kind === 'lost') {
      setReason('');
      setLosing({ card, stageId });
      return;
    }
    doMove(card, stageId);
  };

  const doMove = (card: BoardCard, stageId: string, lostReason?: string) => {
    move.mutate(
      { id: card.id, stageId, ...(lostReason ? { lostReason } : {}) },
      {
        onSuccess: () => toast.success(t('pipeline:moved', { name: card.name, stage: stageName(stageId) })),
        onError: (err) => toast.error(t('pipeline:moveFailed', { name: card.name, error: errorMessage(tc, err) })),
      },
    );
  };

  const findCard = (id: string) => columns.flatMap((c) => c.items).find((c) => c.id === id);

  const onDrop = (e: DragEvent, stageId: string) => {
    e.preventDefault();
    setOver(null);
    const id = e.dataTransfer.getData(DRAG_TYPE) || e.dataTransfer.getData('text/plain') || dragging;
    setDragging(null);
    const card = id ? findCard(id) : undefined;
    if (card) requestMove(card, stageId);
  };

  const submitLost = (e: FormEvent) => {
    e.preventDefault();
    if (!losing) return;
    doMove(losing.card, losing.stageId, reason.trim() || undefined);
    setLosing(null);
  };

  const total = columns.reduce((n, c) => n + c.count, 0);
  const wonStage = board.data ? stageOfKind(board.data, 'won') : null;
  const lostStage = board.data ? stageOfKind(board.data, 'lost') : null;

  return (
    <div className="page page-wide">
      <PageHeader title={t('pipeline:title')} description={canMove ? t('pipeline:description') : t('pipeline:readOnly')} />
      {board.isPending ? (
        <LoadingState />
      ) : board.isError ? (
        <ErrorState error={board.error} onRetry={() => void board.refetch()} />
      ) : (
        <>
          {total === 0 && <EmptyState icon={<Kanban size={28} aria-hidden />} title={t('pipeline:empty')} description={t('pipeline:emptyHint')} />}
          <div className="board" role="list" aria-label={t('pipeline:board')}>
            {columns.map((col) => (
              <Column
                key={col.stage.id}
                col={col}
                over={over === col.stage.id}
                canMove={canMove}
                onDragOver={(e) => {
                  if (!canMove) return;
                  e.preventDefault();
                  e.dataTransfer.dropEffect = 'move';
                  setOver(col.stage.id);
                }}
                onDragLeave={() => setOver((o) => (o === col.stage.id ? null : o))}
                onDrop={(e) => onDrop(e, col.stage.id)}
              >
                {col.items.map((card) => (
                  <article
                    key={card.id}
                    className={`board-card${dragging === card.id ? ' board-card-dragging' : ''}`}
                    draggable={canMove}
                    data-opportunity={card.id}
                    aria-label={card.name}
                    onDragStart={(e) => {
                      e.dataTransfer.setData(DRAG_TYPE, card.id);
                      e.dataTransfer.setData('text/plain', card.id);
                      e.dataTransfer.effectAllowed = 'move';
                      setDragging(card.id);
                    }}
                    onDragEnd={() => {
                      setDragging(null);
                      setOver(null);
                    }}
                  >
                    <div className="board-card-top">
                      <strong className="board-card-name">{card.name}</strong>
                      <span className="mono board-card-value">{formatMinor(card.value_minor, card.currency, i18n.language)}</span>
                    </div>
                    <Link to={`/crm/leads/${card.lead_id}`} className="small board-card-lead">
                      {card.lead_name}
                    </Link>
                    {card.lost_reason && <p className="muted small board-card-reason">{card.lost_reason}</p>}
                    {canMove && (
                      <div className="board-card-actions">
                        <select
                          className="input select input-sm"
                          aria-label={t('pipeline:moveTo', { name: card.name })}
                          value={card.stage_id}
                          onChange={(e) => requestMove(card, e.target.value)}
                        >
                          {columns.map((c) => (
                            <option key={c.stage.id} value={c.stage.id}>
                              {stageLabel(c.stage)}
                            </option>
                          ))}
                        </select>
                        {card.stage_kind === 'open' && wonStage && (
                          <Button size="sm" variant="ghost" className="board-won" onClick={() => requestMove(card, wonStage)}>
                            {t('pipeline:markWon')}
                          </Button>
                        )}
                        {card.stage_kind === 'open' && lostStage && (
                          <Button size="sm" variant="ghost" className="board-lost" onClick={() => requestMove(card, lostStage)}>
                            {t('pipeline:markLost')}
                          </Button>
                        )}
                      </div>
                    )}
                  </article>
                ))}
              </Column>
            ))}
          </div>
        </>
      )}
      <Dialog open={losing !== null} title={t('pipeline:lostTitle')} description={losing ? t('pipeline:lostDescription', { name: losing.card.name }) : ''} onClose={() => setLosing(null)}>
        <form className="form" onSubmit={submitLost}>
          <TextField label={t('pipeline:lostReason')} name="lost_reason" value={reason} onChange={(e) => setReason(e.target.value)} />
          <div className="dialog-actions">
            <Button onClick={() => setLosing(null)}>{t('pipeline:cancel')}</Button>
            <Button type="submit" variant="danger">
              {t('pipeline:lostSubmit')}
            </Button>
          </div>
        </form>
      </Dialog>
    </div>
  );
}

function Column({
  col,
  over,
  canMove,
  children,
  onDragOver,
  onDragLeave,
  onDrop,
}: {
  col: BoardColumn;
  over: boolean;
  canMove: boolean;
  children: ReactNode;
  onDragOver: (e: DragEvent) => void;
  onDragLeave: () => void;
  onDrop: (e: DragEvent) => void;
}) {
  const { t, i18n } = useTranslation('pipeline');
  const stageLabel = useStageLabel();
  const name = stageLabel(col.stage);
  const hidden = col.count - col.items.length;
  return (
    <section
      role="listitem"
      className={`board-col board-col-${col.stage.kind}${over ? ' board-col-over' : ''}`}
      aria-label={name}
      data-stage={col.stage.key}
      onDragOver={onDragOver}
      onDragLeave={onDragLeave}
      onDrop={onDrop}
    >
      <header className="board-col-head">
        <div className="board-col-title">
          <h2>{name}</h2>
          <span className="badge badge-neutral">{col.count}</span>
        </div>
        <div className="board-col-totals">
          {col.totals.length === 0 ? (
            <span className="muted small">{t('pipeline:noTotals')}</span>
          ) : (
            col.totals.map((tot) => (
              <div key={tot.currency} className="board-total">
                <span className="mono">{formatMinor(tot.value_minor, tot.currency, i18n.language)}</span>
                {col.stage.kind === 'open' && <span className="muted small"> · {t('pipeline:weighted', { value: formatMinor(tot.weighted_minor, tot.currency, i18n.language) })}</span>}
              </div>
            ))
          )}
        </div>
      </header>
      <div className="board-col-body">
        {children}
        {col.items.length === 0 && canMove && <p className="board-drop-hint muted small">{t('pipeline:columnEmpty')}</p>}
        {hidden > 0 && <p className="muted small">{t('pipeline:more', { count: hidden })}</p>}
      </div>
    </section>
  );
}
