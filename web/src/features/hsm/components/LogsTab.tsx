import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { Download } from 'lucide-react';
import { Button, EmptyState, ErrorState, LoadingState, errorMessage, useToast } from '../../../shared/ui';
import { formatDateTime, formatNumber } from '../../../shared/format';
import { useSession } from '../../../shared/session';
import { VirtualList } from '../../leads/components/VirtualList';
import { fetchAllLogs, useLogs, useRules, type LogFilters } from '../api/hsm';
import { REASONS, RUN_STATUSES, type Run } from '../api/types';
import { logsToCsv } from '../lib/logs';
import { ReasonBadge, RunStatusBadge } from './Badges';
import { StatusTimeline } from './StatusTimeline';
import { UnconfirmedSetting } from './UnconfirmedSetting';

/** `YYYY-MM-DD` of a date input → ISO instant at the start (or end) of that day, local time. */
function dayBound(day: string, end: boolean): string | undefined {
  if (!day) return undefined;
  const d = new Date(`${day}T${end ? '23:59:59.999' : '00:00:00'}`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export function LogsTab() {
  const { t, i18n } = useTranslation('hsm');
  const { t: tc } = useTranslation();
  const toast = useToast();
  const tz = useSession().tenant.timezone;
  const rules = useRules();
  const [ruleId, setRuleId] = useState('');
  const [status, setStatus] = useState('');
  const [reason, setReason] = useState('');
  const [fromDay, setFromDay] = useState('');
  const [toDay, setToDay] = useState('');
  const [exporting, setExporting] = useState(false);
  const filters: LogFilters = useMemo(
    () => ({ rule_id: ruleId || undefined, status: status || undefined, reason: reason || undefined, from: dayBound(fromDay, false), to: dayBound(toDay, true) }),
    [ruleId, status, reason, fromDay, toDay],
  );
  const logs = useLogs(filters);
  const rows: Run[] = useMemo(() => logs.data?.pages.flatMap((p) => p.items) ?? [], [logs.data]);

  const exportCsv = async () => {
    setExporting(true);
    try {
      const all = await fetchAllLogs(filters);
      const blob = new Blob(['\uFEFF', logsToCsv(all)], { type: 'text/csv;charset=utf-8' });
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `automation-log-${new Date().toISOString().slice(0, 10)}.csv`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
      toast.success(t('hsm:logs.exported', { count: all.length, n: formatNumber(all.length, i18n.language, 0) }));
    } catch (err) {
      toast.error(errorMessage(tc, err));
    } finally {
      setExporting(false);
    }
  };

  return (
    <div className="hsm-tab" data-testid="hsm-logs">
      <div className="hsm-toolbar">
        <select className="input select" aria-label={t('hsm:logs.rule')} value={ruleId} onChange={(e) => setRuleId(e.target.value)}>
          <option value="">{t('hsm:logs.allRules')}</option>
          {(rules.data ?? []).map((r) => (
            <option key={r.id} value={r.id}>{r.name}</option>
          ))}
        </select>
        <select className="input select" aria-label={t('hsm:templates.statusCol')} value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="">{t('hsm:logs.allStatuses')}</option>
          {RUN_STATUSES.map((s) => (
            <option key={s} value={s}>{t(`hsm:runStatus.${s}`)}</option>
          ))}
        </select>
        <select className="input select" aria-label={t('hsm:logs.allReasons')} value={reason} onChange={(e) => setReason(e.target.value)}>
          <option value="">{t('hsm:logs.allReasons')}</option>
          {REASONS.map((r) => (
            <option key={r} value={r}>{t(`hsm:reason.${r}`)}</option>
          ))}
        </select>
        <label className="lead-date">
          {t('hsm:logs.from')}
          <input className="input" type="date" value={fromDay} onChange={(e) => setFromDay(e.target.value)} />
        </label>
        <label className="lead-date">
          {t('hsm:logs.to')}
          <input className="input" type="date" value={toDay} onChange={(e) => setToDay(e.target.value)} />
        </label>
        <span className="hsm-toolbar-spacer" />
        <Button icon={<Download size={16} aria-hidden />} loading={exporting} onClick={() => void exportCsv()} data-testid="logs-export">
          {t('hsm:logs.export')}
        </Button>
      </div>
      <UnconfirmedSetting />
      {logs.isPending ? (
        <LoadingState />
      ) : logs.isError ? (
        <ErrorState error={logs.error} onRetry={() => void logs.refetch()} />
      ) : rows.length === 0 ? (
        <EmptyState title={t('hsm:logs.empty')} />
      ) : (
        <div className="lead-table hsm-log-table" role="table" aria-label={t('hsm:tabs.logs')}>
          <div className="hsm-log-row lead-head" role="row">
            <span role="columnheader">{t('hsm:logs.lead')}</span>
            <span role="columnheader">{t('hsm:logs.template')}</span>
            <span role="columnheader">{t('hsm:logs.timeline')}</span>
            <span role="columnheader">{t('hsm:logs.when')}</span>
          </div>
          <VirtualList
            items={rows}
            rowHeight={76}
            height={Math.min(560, rows.length * 76 + 4)}
            rowKey={(r) => r.id}
            label={t('hsm:tabs.logs')}
            onNearEnd={logs.hasNextPage && !logs.isFetchingNextPage ? () => void logs.fetchNextPage() : undefined}
            renderRow={(r) => (
              <div className="hsm-log-row" data-testid="log-row" data-status={r.status}>
                <span role="cell" className="hsm-log-lead">
                  <Link to={`/crm/leads/${r.lead_id}`}>{r.lead_name ?? r.lead_id.slice(0, 8)}</Link>
                  <span className="muted small lead-ellipsis">{r.rule_name ?? ''}</span>
                </span>
                <span role="cell" className="hsm-log-tpl">
                  <span className="mono small lead-ellipsis">{r.template_name} · {r.language}</span>
                  <RunStatusBadge status={r.status} />
                </span>
                <span role="cell" className="hsm-log-timeline">
                  <StatusTimeline run={r} timeZone={tz} />
                  {(r.reason || r.error_code) && (
                    <span className="hsm-log-why small">
                      {r.reason && <ReasonBadge reason={r.reason} />}
                      {r.error_code !== null && r.error_code !== undefined && <span className="hsm-meta-error" data-testid="meta-error">{t('hsm:logs.metaError', { code: r.error_code, message: r.error_message ?? '' })}</span>}
                    </span>
                  )}
                </span>
                <span role="cell" className="small muted">{formatDateTime(r.run_at, i18n.language, tz)}</span>
              </div>
            )}
          />
          <div className="lead-foot muted small">
            {t('hsm:logs.count', { count: rows.length, n: formatNumber(rows.length, i18n.language, 0) })}
            {logs.isFetchingNextPage ? ` · ${t('hsm:logs.more')}` : ''}
          </div>
        </div>
      )}
    </div>
  );
}
