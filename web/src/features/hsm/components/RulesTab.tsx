import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { FlaskConical, Pencil, Plus, Trash2 } from 'lucide-react';
import { Badge, Button, Dialog, EmptyState, ErrorState, LoadingState, errorMessage, useToast } from '../../../shared/ui';
import { formatNumber } from '../../../shared/format';
import { useDeleteRule, useDryRun, useRules, useToggleRule } from '../api/hsm';
import type { Rule } from '../api/types';
import { triggerSummary } from '../lib/rules';
import { DryRunDialog } from './DryRunDialog';
import { RuleEditor } from './RuleEditor';

export function RulesTab() {
  const { t, i18n } = useTranslation('hsm');
  const { t: tc } = useTranslation();
  const toast = useToast();
  const rules = useRules();
  const toggle = useToggleRule();
  const del = useDeleteRule();
  const dry = useDryRun();
  const [editing, setEditing] = useState<Rule | 'new' | null>(null);
  const [dryRule, setDryRule] = useState<Rule | null>(null);
  const [deleting, setDeleting] = useState<Rule | null>(null);
  const n = (v: number) => formatNumber(v, i18n.language, 0);

  const runDry = (r: Rule) => {
    setDryRule(r);
    dry.mutate(r.id);
  };

  return (
    <div className="hsm-tab" data-testid="hsm-rules">
      <div className="hsm-toolbar">
        <span className="hsm-toolbar-spacer" />
        <Button variant="primary" icon={<Plus size={16} aria-hidden />} onClick={() => setEditing('new')} disabled={editing !== null} data-testid="rules-new">
          {t('hsm:rules.new')}
        </Button>
      </div>
      {editing !== null && (
        <RuleEditor
          key={editing === 'new' ? 'new' : editing.id}
          rule={editing === 'new' ? null : editing}
          onCancel={() => setEditing(null)}
          onSaved={(saved, dryRun) => {
            setEditing(null);
            if (dryRun) runDry(saved);
          }}
        />
      )}
      {rules.isPending ? (
        <LoadingState />
      ) : rules.isError ? (
        <ErrorState error={rules.error} onRetry={() => void rules.refetch()} />
      ) : rules.data.length === 0 ? (
        <EmptyState title={t('hsm:rules.empty')} />
      ) : (
        <div className="table-wrap">
          <table className="table hsm-table" aria-label={t('hsm:tabs.rules')}>
            <thead>
              <tr>
                <th>{t('hsm:rules.enabled')}</th>
                <th>{t('hsm:rules.name')}</th>
                <th>{t('hsm:rules.trigger')}</th>
                <th>{t('hsm:rules.template')}</th>
                <th>{t('hsm:rules.last7')}</th>
                <th aria-label={t('hsm:templates.actions')} />
              </tr>
            </thead>
            <tbody>
              {rules.data.map((r) => {
                const s = triggerSummary(r.trigger);
                const extras = [
                  r.delay_minutes ? t('hsm:rules.delayMin', { count: r.delay_minutes }) : null,
                  r.quiet_hours ? t('hsm:rules.quiet', { start: r.quiet_hours.start, end: r.quiet_hours.end }) : null,
                  r.frequency_cap ? t('hsm:rules.cap', { max: r.frequency_cap.max, hours: r.frequency_cap.hours }) : null,
                ].filter(Boolean);
                return (
                  <tr key={r.id} data-testid="rule-row" data-name={r.name}>
                    <td>
                      <label className="hsm-switch">
                        <input
                          type="checkbox"
                          role="switch"
                          checked={!!r.enabled}
                          aria-label={`${t('hsm:rules.enabled')}: ${r.name}`}
                          disabled={toggle.isPending}
                          onChange={(e) =>
                            toggle.mutate(
                              { id: r.id, enabled: e.target.checked },
                              {
                                onSuccess: (x) => toast.success(t(x.enabled ? 'hsm:rules.toggledOn' : 'hsm:rules.toggledOff', { name: x.name })),
                                onError: (err) => toast.error(errorMessage(tc, err)),
                              },
                            )
                          }
                        />
                        <span className="hsm-switch-track" aria-hidden />
                      </label>
                    </td>
                    <td>
                      <strong>{r.name}</strong> {r.starter_key && <Badge>{t('hsm:rules.starter')}</Badge>}
                      {extras.length > 0 && <div className="muted small">{extras.join(' · ')}</div>}
                    </td>
                    <td>{t(`hsm:rules.triggerSummary.${s.key}`, s.params)}</td>
                    <td className="mono small">
                      {r.action.template_name} · {r.action.language}
                    </td>
                    <td className="hsm-counts">
                      <Badge tone="success">{t('hsm:rules.sent', { count: r.last_7_days.sent, n: n(r.last_7_days.sent) })}</Badge>{' '}
                      <Badge tone="warning">{t('hsm:rules.skipped', { count: r.last_7_days.skipped, n: n(r.last_7_days.skipped) })}</Badge>{' '}
                      <Badge tone={r.last_7_days.failed > 0 ? 'danger' : 'neutral'}>{t('hsm:rules.failed', { count: r.last_7_days.failed, n: n(r.last_7_days.failed) })}</Badge>
                    </td>
                    <td className="hsm-actions">
                      <Button size="sm" variant="ghost" icon={<Pencil size={14} aria-hidden />} onClick={() => setEditing(r)}>
                        {t('hsm:rules.edit')}
                      </Button>
                      <Button size="sm" variant="ghost" icon={<FlaskConical size={14} aria-hidden />} onClick={() => runDry(r)}>
                        {t('hsm:rules.dryRun')}
                      </Button>
                      <Button size="sm" variant="ghost" icon={<Trash2 size={14} aria-hidden />} onClick={() => setDeleting(r)} aria-label={`${t('hsm:rules.delete')} ${r.name}`} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <DryRunDialog rule={dryRule} result={dry.data} error={dry.error} pending={dry.isPending} onClose={() => setDryRule(null)} />
      <Dialog
        open={!!deleting}
        title={t('hsm:rules.delete')}
        onClose={() => setDeleting(null)}
        footer={
          <>
            <Button variant="ghost" onClick={() => setDeleting(null)}>{t('hsm:editor.cancel')}</Button>
            <Button
              variant="danger"
              loading={del.isPending}
              onClick={() =>
                deleting &&
                del.mutate(deleting.id, {
                  onSuccess: () => {
                    toast.success(t('hsm:rules.deleted'));
                    setDeleting(null);
                  },
                  onError: (err) => toast.error(errorMessage(tc, err)),
                })
              }
            >
              {t('hsm:rules.delete')}
            </Button>
          </>
        }
      >
        <p>{deleting && t('hsm:rules.deleteConfirm', { name: deleting.name })}</p>
      </Dialog>
    </div>
  );
}
