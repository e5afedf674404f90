import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { ArrowDown, ArrowUp, ArrowUpDown, Download } from 'lucide-react';
import { Badge, Button, type BadgeTone } from '../../../shared/ui';
import type { CampaignStat, Figures } from '../api/marketing';
import { count, money, percent } from '../lib/format';
import { filterSearch, type HubFilters } from '../lib/range';
import { campaignsCsv, defaultDir, downloadText, sortRows, type SortDir, type SortKey } from '../lib/table';
import { VirtualRows } from './VirtualRows';

export const STATUSES = ['ACTIVE', 'PAUSED', 'DELETED', 'ARCHIVED'] as const;
const ROW_HEIGHT = 48;

export function statusTone(status: string): BadgeTone {
  switch (status) {
    case 'ACTIVE':
      return 'success';
    case 'PAUSED':
      return 'warning';
    case 'DELETED':
      return 'danger';
    case 'ARCHIVED':
      return 'neutral';
    default:
      return 'info';
  }
}

interface Col {
  key: SortKey;
  numeric: boolean;
}

const COLS: Col[] = [
  { key: 'name', numeric: false },
  { key: 'spend', numeric: true },
  { key: 'leads', numeric: true },
  { key: 'meta_reported_leads', numeric: true },
  { key: 'cpl', numeric: true },
  { key: 'opportunities', numeric: true },
  { key: 'revenue', numeric: true },
  { key: 'roi', numeric: true },
  { key: 'cpa', numeric: true },
];

/** Campaign rows (with the "unknown campaign" row), sortable, virtualized, filterable by status, exportable; totals in the footer. */
export function CampaignsTable({
  rows,
  totals,
  currency,
  filters,
  status,
  onStatus,
  fileName,
}: {
  rows: readonly CampaignStat[];
  totals: Figures;
  currency: string;
  filters: HubFilters;
  status: string;
  onStatus: (s: string) => void;
  fileName: string;
}) {
  const { t, i18n } = useTranslation('marketing');
  const locale = i18n.language;
  const [sort, setSort] = useState<{ key: SortKey; dir: SortDir }>({ key: 'spend', dir: 'desc' });
  const sorted = useMemo(() => sortRows(rows, sort.key, sort.dir, locale), [rows, sort, locale]);
  const search = filterSearch(filters);

  const clickSort = (key: SortKey) => setSort((s) => (s.key === key ? { key, dir: s.dir === 'asc' ? 'desc' : 'asc' } : { key, dir: defaultDir(key) }));
  const cell = (row: CampaignStat, key: SortKey) => {
    switch (key) {
      case 'name':
        return row.id === 'unknown' ? (
          <span className="mk-cell-name">
            <Link to={`/crm/marketing/campaigns/unknown?${search}`} title={t('campaigns.unknownHint')}>
              {t('campaigns.unknown')}
            </Link>
            <span className="muted small">{t('campaigns.unknownHint')}</span>
          </span>
        ) : (
          <span className="mk-cell-name">
            <Link to={`/crm/marketing/campaigns/${encodeURIComponent(row.id)}?${search}`} data-testid="campaign-link" title={row.name}>
              {row.name}
            </Link>
            <span className="mk-cell-sub">
              <Badge tone={statusTone(row.status)}>{t(`status.${row.status}`, { defaultValue: row.status })}</Badge>
              <span className="muted small mono">{row.id}</span>
            </span>
          </span>
        );
      case 'status':
        return t(`status.${row.status}`, { defaultValue: row.status });
      case 'spend':
        return money(row.spend, currency, locale);
      case 'leads':
        return count(row.leads, locale);
      case 'meta_reported_leads':
        return count(row.meta_reported_leads, locale);
      case 'cpl':
        return money(row.cpl, currency, locale);
      case 'opportunities':
        return count(row.opportunities, locale);
      case 'revenue':
        return money(row.revenue, currency, locale);
      case 'roi':
        return percent(row.roi, locale);
      case 'cpa':
        return money(row.cpa, currency, locale);
    }
  };

  return (
    <div className="mk-campaigns">
      <div className="mk-toolbar">
        <label className="mk-inline-field">
          <span>{t('campaigns.statusFilter')}</span>
          <select className="input select input-sm" value={status} onChange={(e) => onStatus(e.target.value)}>
            <option value="">{t('campaigns.allStatuses')}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`status.${s}`)}
              </option>
            ))}
          </select>
        </label>
        <span className="muted small">{t('campaigns.count', { count: rows.length })}</span>
        <Button size="sm" icon={<Download size={14} aria-hidden />} onClick={() => downloadText(fileName, campaignsCsv(sorted, currency))} disabled={rows.length === 0}>
          {t('campaigns.export')}
        </Button>
      </div>
      <div className="mk-table" role="table" aria-label={t('campaigns.title')} aria-rowcount={rows.length + 2}>
        <div role="rowgroup">
          <div role="row" className="mk-row mk-head" aria-rowindex={1}>
            {COLS.map((c) => {
              const active = sort.key === c.key;
              const Icon = !active ? ArrowUpDown : sort.dir === 'asc' ? ArrowUp : ArrowDown;
              return (
                <span key={c.key} role="columnheader" className={c.numeric ? 'mk-num' : ''} aria-sort={active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none'}>
                  <button type="button" className="mk-sort" onClick={() => clickSort(c.key)} title={t(`columns.${c.key}Hint`)}>
                    {t(`columns.${c.key}`)}
                    <Icon size={12} aria-hidden />
                  </button>
                </span>
              );
            })}
          </div>
        </div>
        {rows.length === 0 ? (
          <p className="mk-table-empty muted">{status ? t('campaigns.emptyFiltered') : t('campaigns.empty')}</p>
        ) : (
          <VirtualRows
            items={sorted}
            rowHeight={ROW_HEIGHT}
            maxHeight={ROW_HEIGHT * 10}
            rowKey={(r) => r.id}
            label={t('campaigns.rows')}
            renderRow={(row) =>
              COLS.map((c) => (
                <span key={c.key} role="cell" className={c.numeric ? 'mk-num' : ''} data-col={c.key}>
                  {cell(row, c.key)}
                </span>
              ))
            }
          />
        )}
        <div role="rowgroup">
          <div role="row" className="mk-row mk-foot" aria-rowindex={rows.length + 2} data-testid="campaigns-totals">
            <span role="cell">{t('campaigns.totals')}</span>
            <span role="cell" className="mk-num" data-col="spend">{money(totals.marketing_spend, currency, locale)}</span>
            <span role="cell" className="mk-num" data-col="leads">{count(totals.leads, locale)}</span>
            <span role="cell" className="mk-num" data-col="meta_reported_leads">{count(totals.meta_reported_leads, locale)}</span>
            <span role="cell" className="mk-num" data-col="cpl">{money(totals.cpl, currency, locale)}</span>
            <span role="cell" className="mk-num" data-col="opportunities">{count(totals.opportunities, locale)}</span>
            <span role="cell" className="mk-num" data-col="revenue">{money(totals.sales_revenue, currency, locale)}</span>
            <span role="cell" className="mk-num" data-col="roi">{percent(totals.roi_percentage, locale)}</span>
            <span role="cell" className="mk-num" data-col="cpa">{money(totals.cpa, currency, locale)}</span>
          </div>
        </div>
      </div>
    </div>
  );
}
