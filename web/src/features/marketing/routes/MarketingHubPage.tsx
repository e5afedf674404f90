import { useEffect, useRef, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { AlertTriangle, BarChart3, ClipboardList, Coins, Loader2, PlugZap, Send } from 'lucide-react';
import { Button, Card, EmptyState, ErrorState, LoadingState, PageHeader } from '../../../shared/ui';
import { formatDateTime } from '../../../shared/format';
import { hasPermission, useSession } from '../../../shared/session';
import { MetaConnectionWizard, TOKEN_STATUS_KEY, useTokenStatus, type TokenStatus, type WizardStep } from '../../meta';
import { type SyncState, useCampaigns, usePeriodStats, useRoi, useStats, useSyncStatus } from '../api/marketing';
import { CampaignsTable } from '../components/CampaignsTable';
import { CapiLedger } from '../components/CapiLedger';
import { Funnel } from '../components/Funnel';
import { FxRates } from '../components/FxRates';
import { Kpis, SecondaryFacts } from '../components/Kpis';
import { LeadForms } from '../components/LeadForms';
import { ModelSwitch, RangePicker } from '../components/RangePicker';
import { SpendRevenueChart } from '../components/SpendRevenueChart';
import { AccountSync, ConnectionCard, SyncNowButton } from '../components/SyncStatus';
import { Warnings } from '../components/Warnings';
import { readFilters, writeFilters, type HubFilters } from '../lib/range';
import '../i18n';
import '../marketing.css';

export const TABS = ['overview', 'connection', 'leadForms', 'capi', 'fx'] as const;
export type Tab = (typeof TABS)[number];
const TAB_ICONS: Record<Tab, ReactNode> = {
  overview: <BarChart3 size={16} aria-hidden />,
  connection: <PlugZap size={16} aria-hidden />,
  leadForms: <ClipboardList size={16} aria-hidden />,
  capi: <Send size={16} aria-hidden />,
  fx: <Coins size={16} aria-hidden />,
};

/** No account has finished a first sync yet and none has failed: the numbers would be zeros, so show progress instead. */
export function stillSyncing(states: readonly SyncState[]): boolean {
  return states.length === 0 || states.every((s) => !s.last_success_at && s.status !== 'error');
}

/** No account has a successful sync yet (and one has failed): there are no numbers to show, only the error. */
export function neverSynced(states: readonly SyncState[]): boolean {
  return states.length > 0 && states.every((s) => !s.last_success_at);
}

/** Accounts whose latest run failed (or is throttled): their error is shown above the numbers. */
export function failingAccounts(states: readonly SyncState[]): SyncState[] {
  return states.filter((s) => s.status === 'error' || s.status === 'throttled');
}

/** The Marketing Hub: Meta spend to won revenue, per the metrics contract. */
export default function MarketingHubPage() {
  const { t } = useTranslation('marketing');
  const session = useSession();
  const [params, setParams] = useSearchParams();
  const token = useTokenStatus();
  const canManageMeta = hasPermission(session, 'meta.manage');
  const canManage = hasPermission(session, 'marketing.manage');
  const connected = !!token.data?.connected && !!token.data.ad_account;
  const sync = useSyncStatus(connected);
  const client = useQueryClient();

  // A finished (or failed) sync brings new numbers or a new error: refresh every
  // hub query (not the sync status itself) and the Meta connection's health.
  const lastSuccess = (sync.data ?? []).map((s) => `${s.last_success_at ?? ''}/${s.last_error_at ?? ''}`).join('|');
  const seen = useRef<string | null>(null);
  useEffect(() => {
    if (!sync.data) return;
    if (seen.current !== null && seen.current !== lastSuccess) {
      void client.invalidateQueries({ predicate: (q) => q.queryKey[0] === 'marketing' && q.queryKey[1] !== 'sync' });
      void client.invalidateQueries({ queryKey: TOKEN_STATUS_KEY });
    }
    seen.current = lastSuccess;
  }, [lastSuccess, sync.data, client]);

  const metaError = params.get('meta_error');
  const justConnected = params.get('connected') === '1';
  const wizardOpen = justConnected || !!metaError || params.get('connect') === '1';
  const closeWizard = () => {
    const next = new URLSearchParams(params);
    ['connected', 'meta_error', 'connect'].forEach((k) => next.delete(k));
    setParams(next, { replace: true });
  };
  const openWizard = () => {
    const next = new URLSearchParams(params);
    next.set('connect', '1');
    setParams(next);
  };

  const rawTab = params.get('tab');
  const tab: Tab = (TABS as readonly string[]).includes(rawTab ?? '') ? (rawTab as Tab) : 'overview';
  const tabHref = (to: Tab) => {
    const next = new URLSearchParams(params);
    next.set('tab', to);
    return `?${next.toString()}`;
  };

  let body: ReactNode;
  if (token.isPending) body = <LoadingState />;
  else if (token.isError) body = <ErrorState error={token.error} onRetry={() => void token.refetch()} />;
  else if (wizardOpen && canManageMeta) {
    const initialStep: WizardStep | undefined = justConnected ? (token.data.ad_account ? 'done' : 'business') : undefined;
    body = (
      <Card title={t('connect.wizardTitle')}>
        <MetaConnectionWizard returnTo="marketing" metaError={metaError} initialStep={initialStep} onFinished={closeWizard} />
      </Card>
    );
  } else if (!connected) {
    body = <NotConnected token={token.data} canManageMeta={canManageMeta} onConnect={openWizard} />;
  } else {
    const states = sync.data ?? [];
    body = (
      <>
        <nav className="mk-tabs" role="tablist" aria-label={t('tabs.label')}>
          {TABS.map((k) => (
            <Link key={k} to={tabHref(k)} role="tab" aria-selected={tab === k} className={`mk-tab${tab === k ? ' mk-tab-active' : ''}`} data-tab={k} replace>
              {TAB_ICONS[k]}
              {t(`tabs.${k}`)}
            </Link>
          ))}
        </nav>
        <div role="tabpanel" aria-label={t(`tabs.${tab}`)}>
          {tab === 'overview' &&
            (sync.isPending ? (
              <LoadingState />
            ) : sync.isError ? (
              <ErrorState error={sync.error} onRetry={() => void sync.refetch()} />
            ) : stillSyncing(states) ? (
              <Syncing states={states} canSync={canManage} />
            ) : neverSynced(states) ? (
              <FirstSyncFailed states={states} canSync={canManage} />
            ) : (
              <Overview states={states} canSync={canManage} tabHref={tabHref} />
            ))}
          {tab === 'connection' && <ConnectionCard token={token.data} states={states} canSync={canManage} canManageMeta={canManageMeta} />}
          {tab === 'leadForms' && <LeadForms canManage={canManage} />}
          {tab === 'capi' && <CapiLedger />}
          {tab === 'fx' && <FxRates reporting={session.tenant.currency} canManage={canManage} />}
        </div>
      </>
    );
  }

  return (
    <div className="page page-wide mk-page" data-testid="marketing-hub">
      <PageHeader title={t('title')} description={t('description')} />
      {body}
    </div>
  );
}

function NotConnected({ token, canManageMeta, onConnect }: { token: TokenStatus; canManageMeta: boolean; onConnect: () => void }) {
  const { t } = useTranslation('marketing');
  const noAccount = token.connected && !token.ad_account;
  return (
    <div data-testid="marketing-not-connected">
      <EmptyState
        icon={<PlugZap size={32} aria-hidden />}
        title={noAccount ? t('connect.noAccountTitle') : t('connect.title')}
        description={canManageMeta ? t('connect.text') : t('connect.askAdmin')}
        action={
          canManageMeta ? (
            <div className="mk-cta">
              <Button variant="primary" icon={<PlugZap size={16} aria-hidden />} onClick={onConnect} data-testid="marketing-connect">
                {noAccount ? t('connect.pickAccount') : t('connect.button')}
              </Button>
              <Link to="/settings/meta" className="small">
                {t('connect.settings')}
              </Link>
            </div>
          ) : undefined
        }
      />
    </div>
  );
}

function Syncing({ states, canSync }: { states: readonly SyncState[]; canSync: boolean }) {
  const { t } = useTranslation('marketing');
  return (
    <Card className="mk-syncing">
      <div className="state" data-testid="marketing-syncing" role="status">
        <div className="state-icon">
          <Loader2 size={28} className="spin" aria-hidden />
        </div>
        <p className="state-title">{t('syncing.title')}</p>
        <p className="state-description">{t('syncing.text')}</p>
      </div>
      {states.length > 0 && (
        <ul className="mk-accounts">
          {states.map((s) => (
            <AccountSync key={s.ad_account_id} s={s} />
          ))}
        </ul>
      )}
      {canSync && states.length === 0 && (
        <div className="mk-cta">
          <SyncNowButton />
        </div>
      )}
    </Card>
  );
}

function FirstSyncFailed({ states, canSync }: { states: readonly SyncState[]; canSync: boolean }) {
  const { t } = useTranslation('marketing');
  return (
    <Card className="mk-syncing">
      <div className="state state-error" data-testid="marketing-first-sync-failed" role="alert">
        <div className="state-icon">
          <AlertTriangle size={28} aria-hidden />
        </div>
        <p className="state-title">{t('syncError.firstTitle')}</p>
        <p className="state-description">{t('syncError.firstText')}</p>
      </div>
      <ul className="mk-accounts">
        {states.map((s) => (
          <AccountSync key={s.ad_account_id} s={s} />
        ))}
      </ul>
      {canSync && (
        <div className="mk-cta">
          <SyncNowButton />
        </div>
      )}
    </Card>
  );
}

function Overview({ states, canSync, tabHref }: { states: readonly SyncState[]; canSync: boolean; tabHref: (t: Tab) => string }) {
  const { t, i18n } = useTranslation('marketing');
  const [params, setParams] = useSearchParams();
  const filters = readFilters(params);
  const status = params.get('status') ?? '';
  const stats = useStats(filters);
  const previous = usePeriodStats(stats.data?.previous_period, filters.model);
  const roi = useRoi(filters);
  const campaigns = useCampaigns(filters, status);
  const setFilters = (f: HubFilters) => setParams(writeFilters(params, f));
  const setStatus = (s: string) => {
    const next = new URLSearchParams(params);
    if (s) next.set('status', s);
    else next.delete('status');
    setParams(next);
  };
  const failing = failingAccounts(states);
  const locale = i18n.language;
  const fetching = Object.entries({ stats, previous, roi, campaigns })
    .filter(([, q]) => q.isFetching)
    .map(([k]) => k);
  const busy = fetching.length > 0;
  const stale = stats.isPlaceholderData || roi.isPlaceholderData || campaigns.isPlaceholderData;

  return (
    <div className={`mk-overview${stale ? ' mk-stale' : ''}`} data-busy={busy} data-fetching={fetching.join(' ')} aria-busy={busy}>
      <div className="mk-filters">
        <RangePicker value={filters} onChange={setFilters} />
        <ModelSwitch value={filters.model} onChange={(model) => setFilters({ ...filters, model })} />
      </div>
      {failing.length > 0 && (
        <div className="mk-alert mk-alert-danger" role="alert" data-testid="hub-sync-error">
          <AlertTriangle size={16} aria-hidden />
          <div>
            <strong>{t('syncError.title')}</strong>
            {failing.map((s) => (
              <p key={s.ad_account_id}>
                {s.account_name ?? s.ad_account_id}: <span className="mk-meta-message">{s.last_error ?? t(`sync.status.${s.status}`)}</span>
              </p>
            ))}
            <p className="small">
              {t('syncError.stale')} <Link to={tabHref('connection')}>{t('syncError.details')}</Link>
            </p>
          </div>
        </div>
      )}
      {stats.isPending ? (
        <LoadingState />
      ) : stats.isError ? (
        <ErrorState error={stats.error} onRetry={() => void stats.refetch()} title={t('errors.stats')} />
      ) : (
        <>
          <div className="mk-period muted small" data-testid="marketing-period">
            <span>
              {t('period.current', { since: stats.data.period.since, until: stats.data.period.until })} · {t('period.previous', { since: stats.data.previous_period.since, until: stats.data.previous_period.until })} ·{' '}
              {t(`model.${stats.data.model}`)} · {stats.data.currency}
            </span>
            <span>
              {stats.data.last_synced_at ? t('period.synced', { when: formatDateTime(stats.data.last_synced_at, locale) }) : t('period.neverSynced')}
              {canSync && (
                <>
                  {' '}
                  <SyncNowButton size="sm" />
                </>
              )}
            </span>
          </div>
          <Warnings warnings={stats.data.warnings} unconverted={stats.data.unconverted} fxHref={tabHref('fx')} />
          <Kpis stats={stats.data} previous={previous.data} />
          <SecondaryFacts stats={stats.data} />
          <div className="mk-grid">
            <Card title={t('chart.title')} className="mk-chart-card">
              <SpendRevenueChart points={stats.data.series} currency={stats.data.currency} since={stats.data.period.since} until={stats.data.period.until} />
            </Card>
            <Card title={t('funnel.title')}>
              {roi.isPending ? <LoadingState /> : roi.isError ? <ErrorState error={roi.error} onRetry={() => void roi.refetch()} /> : <Funnel steps={roi.data.funnel} />}
              {roi.data && roi.data.by_source.length > 0 && (
                <table className="table mk-sources">
                  <caption className="muted small">{t('sources.title')}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t('sources.channel')}</th>
                      <th scope="col" className="mk-num">
                        {t('kpi.leads')}
                      </th>
                      <th scope="col" className="mk-num">
                        {t('facts.won')}
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {roi.data.by_source.map((s) => (
                      <tr key={s.channel} data-channel={s.channel}>
                        <td>{t(`sources.${s.channel}`, { defaultValue: s.channel })}</td>
                        <td className="mk-num mono">{s.leads}</td>
                        <td className="mk-num mono">{s.won}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </Card>
          </div>
        </>
      )}
      <Card title={t('campaigns.title')} className="mk-campaigns-card">
        {campaigns.isPending ? (
          <LoadingState />
        ) : campaigns.isError ? (
          <ErrorState error={campaigns.error} onRetry={() => void campaigns.refetch()} title={t('errors.campaigns')} />
        ) : (
          <>
            {stats.isError && <Warnings warnings={campaigns.data.warnings} unconverted={campaigns.data.unconverted} fxHref={tabHref('fx')} />}
            <CampaignsTable
              rows={campaigns.data.items}
              totals={campaigns.data.totals}
              currency={campaigns.data.currency}
              filters={filters}
              status={status}
              onStatus={setStatus}
              fileName={`campaigns-${campaigns.data.period.since}-${campaigns.data.period.until}-${campaigns.data.model}.csv`}
            />
          </>
        )}
      </Card>
    </div>
  );
}

