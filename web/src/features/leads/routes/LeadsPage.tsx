import { useCallback, useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { Download, FilterX, Plus, Search, Tag, Upload, UserCheck, Users } from 'lucide-react';
import { Button, Card, EmptyState, ErrorState, LoadingState, PageHeader, errorMessage, useToast } from '../../../shared/ui';
import { useSession, hasPermission } from '../../../shared/session';
import { formatDate } from '../../../shared/format';
import { useBulkAssign, useBulkTag, useLeadList, useOwners } from '../api/leads';
import { LEAD_SOURCES, LEAD_STATUSES, type Lead } from '../api/types';
import { EMPTY_FILTERS, SORTS, activeFilterCount, exportUrl, filtersFromSearch, filtersToQuery, filtersToSearch, type LeadFilters } from '../lib/filters';
import { VirtualList } from '../components/VirtualList';
import { StatusBadge, TagList } from '../components/LeadBadges';
import { NewLeadDialog } from '../components/NewLeadDialog';
import '../leads.css';

const ROW_HEIGHT = 52;

export default function LeadsPage() {
  const { t, i18n } = useTranslation('leads');
  const { t: tc } = useTranslation();
  const session = useSession();
  const toast = useToast();
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => filtersFromSearch(params), [params]);
  const [search, setSearch] = useState(filters.q);
  const [creating, setCreating] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [bulkOwner, setBulkOwner] = useState('');
  const [bulkTag, setBulkTag] = useState('');
  const [viewport, setViewport] = useState(() => (typeof window === 'undefined' ? 600 : Math.max(320, window.innerHeight - 400)));

  const canWrite = hasPermission(session, 'leads.write');
  const canImport = hasPermission(session, 'leads.import');
  // Listing the team (for owner names and pickers) needs team.manage.
  const canSeeTeam = hasPermission(session, 'team.manage');
  // The server allows bulk assignment to ceo/admin only, the same roles that manage the team.
  const canAssign = canWrite && canSeeTeam;
  const owners = useOwners(canSeeTeam);
  const ownerName = (id: string | null | undefined) => {
    if (!id) return t('leads:list.unassigned');
    if (id === session.user.id) return t('leads:list.me');
    return owners.data?.find((u) => u.id === id)?.name ?? '—';
  };

  const update = useCallback(
    (patch: Partial<LeadFilters>) => {
      setParams(filtersToSearch({ ...filters, ...patch }), { replace: true });
      setSelected(new Set());
    },
    [filters, setParams],
  );

  // Debounced text search: the request goes out 300 ms after the last keystroke.
  useEffect(() => {
    if (search === filters.q) return;
    const timer = window.setTimeout(() => update({ q: search }), 300);
    return () => window.clearTimeout(timer);
  }, [search, filters.q, update]);

  useEffect(() => {
    const onResize = () => setViewport(Math.max(320, window.innerHeight - 400));
    window.addEventListener('resize', onResize);
    return () => window.removeEventListener('resize', onResize);
  }, []);

  const query = useMemo(() => filtersToQuery(filters), [filters]);
  const list = useLeadList(query);
  const rows = useMemo(() => list.data?.pages.flatMap((p) => p.items) ?? [], [list.data]);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = list;
  const loadMore = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

  const assign = useBulkAssign();
  const tag = useBulkTag();
  const ids = [...selected];
  const allSelected = rows.length > 0 && rows.every((r) => selected.has(r.id));
  const toggle = (id: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const doAssign = () => {
    if (!bulkOwner) return;
    assign.mutate(
      { ids, owner_id: bulkOwner === 'none' ? null : bulkOwner },
      {
        onSuccess: (r) => {
          toast.success(t('leads:bulk.assigned', { count: r.updated }));
          setSelected(new Set());
        },
        onError: (err) => toast.error(errorMessage(tc, err)),
      },
    );
  };
  const doTag = (mode: 'add' | 'remove') => {
    const value = bulkTag.trim();
    if (!value) return;
    tag.mutate(
      { ids, add: mode === 'add' ? [value] : [], remove: mode === 'remove' ? [value] : [] },
      {
        onSuccess: (r) => {
          toast.success(t('leads:bulk.tagged', { count: r.updated }));
          setBulkTag('');
        },
        onError: (err) => toast.error(errorMessage(tc, err)),
      },
    );
  };

  const activeCount = activeFilterCount(filters);
  const multi = (field: 'status' | 'source', value: string) => update({ [field]: value ? [value] : [] });

  return (
    <div className="page">
      <PageHeader
        title={t('leads:list.title')}
        description={t('leads:list.description')}
        actions={
          <>
            <a className="btn btn-secondary" href={exportUrl(filters)} download>
              <Download size={16} aria-hidden />
              <span>{t('leads:list.export')}</span>
            </a>
            {canImport && (
              <Link className="btn btn-secondary" to="/crm/leads/import">
                <Upload size={16} aria-hidden />
                <span>{t('leads:list.import')}</span>
              </Link>
            )}
            {canWrite && (
              <Button variant="primary" icon={<Plus size={16} aria-hidden />} onClick={() => setCreating(true)}>
                {t('leads:list.new')}
              </Button>
            )}
          </>
        }
      />
      <Card>
        <div className="lead-filters" role="search">
          <label className="lead-search">
            <Search size={16} aria-hidden />
            <span className="sr-only">{t('leads:list.search')}</span>
            <input className="input" type="search" placeholder={t('leads:list.searchPlaceholder')} value={search} onChange={(e) => setSearch(e.target.value)} aria-label={t('leads:list.search')} />
          </label>
          <select className="input select" aria-label={t('leads:list.status')} value={filters.status[0] ?? ''} onChange={(e) => multi('status', e.target.value)}>
            <option value="">{t('leads:list.anyStatus')}</option>
            {LEAD_STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`status.${s}`)}
              </option>
            ))}
          </select>
          <select className="input select" aria-label={t('leads:list.source')} value={filters.source[0] ?? ''} onChange={(e) => multi('source', e.target.value)}>
            <option value="">{t('leads:list.anySource')}</option>
            {LEAD_SOURCES.map((s) => (
              <option key={s} value={s}>
                {t(`source.${s}`)}
              </option>
            ))}
          </select>
          {canSeeTeam && (
            <select className="input select" aria-label={t('leads:list.owner')} value={filters.owner} onChange={(e) => update({ owner: e.target.value })}>
              <option value="">{t('leads:list.ownerAny')}</option>
              <option value="none">{t('leads:list.ownerNone')}</option>
              <option value={session.user.id}>{t('leads:list.ownerMe')}</option>
              {owners.data
                ?.filter((u) => u.id !== session.user.id)
                .map((u) => (
                  <option key={u.id} value={u.id}>
                    {u.name}
                  </option>
                ))}
            </select>
          )}
          <input className="input" aria-label={t('leads:list.campaignId')} placeholder={t('leads:list.campaignId')} value={filters.campaignId} onChange={(e) => update({ campaignId: e.target.value })} />
          <input className="input" aria-label={t('leads:list.adId')} placeholder={t('leads:list.adId')} value={filters.adId} onChange={(e) => update({ adId: e.target.value })} />
          <input className="input" aria-label={t('leads:list.tag')} placeholder={t('leads:list.tag')} value={filters.tag} onChange={(e) => update({ tag: e.target.value })} />
          <label className="lead-date">
            <span>{t('leads:list.createdFrom')}</span>
            <input className="input" type="date" value={filters.createdFrom} onChange={(e) => update({ createdFrom: e.target.value })} />
          </label>
          <label className="lead-date">
            <span>{t('leads:list.createdTo')}</span>
            <input className="input" type="date" value={filters.createdTo} onChange={(e) => update({ createdTo: e.target.value })} />
          </label>
          <select className="input select" aria-label={t('leads:list.sort')} value={filters.sort} onChange={(e) => update({ sort: e.target.value })}>
            {SORTS.map((s) => (
              <option key={s} value={s}>
                {t(`list.sorts.${s}`)}
              </option>
            ))}
          </select>
          {activeCount > 0 && (
            <Button
              variant="ghost"
              icon={<FilterX size={16} aria-hidden />}
              onClick={() => {
                setSearch('');
                update({ ...EMPTY_FILTERS, sort: filters.sort });
              }}
            >
              {t('leads:list.clearFilters')}
            </Button>
          )}
        </div>

        {selected.size > 0 && (canAssign || canWrite) && (
          <div className="lead-bulk" role="region" aria-label={t('leads:list.selected', { count: selected.size })}>
            <strong>{t('leads:list.selected', { count: selected.size })}</strong>
            {canAssign && (
              <span className="lead-bulk-group">
                <select className="input select input-sm" aria-label={t('leads:bulk.assignTo')} value={bulkOwner} onChange={(e) => setBulkOwner(e.target.value)}>
                  <option value="">{t('leads:bulk.choose')}</option>
                  <option value="none">{t('leads:bulk.unassign')}</option>
                  {owners.data?.map((u) => (
                    <option key={u.id} value={u.id}>
                      {u.name}
                    </option>
                  ))}
                </select>
                <Button size="sm" icon={<UserCheck size={15} aria-hidden />} disabled={!bulkOwner} loading={assign.isPending} onClick={doAssign}>
                  {t('leads:bulk.assign')}
                </Button>
              </span>
            )}
            {canWrite && (
              <span className="lead-bulk-group">
                <input className="input input-sm" aria-label={t('leads:bulk.tag')} placeholder={t('leads:bulk.tag')} value={bulkTag} onChange={(e) => setBulkTag(e.target.value)} />
                <Button size="sm" icon={<Tag size={15} aria-hidden />} disabled={!bulkTag.trim()} loading={tag.isPending} onClick={() => doTag('add')}>
                  {t('leads:bulk.addTag')}
                </Button>
                <Button size="sm" variant="ghost" disabled={!bulkTag.trim() || tag.isPending} onClick={() => doTag('remove')}>
                  {t('leads:bulk.removeTag')}
                </Button>
              </span>
            )}
            <Button size="sm" variant="ghost" onClick={() => setSelected(new Set())}>
              {t('leads:bulk.clear')}
            </Button>
          </div>
        )}

        {list.isPending ? (
          <LoadingState />
        ) : list.isError ? (
          <ErrorState error={list.error} onRetry={() => void list.refetch()} />
        ) : rows.length === 0 ? (
          <EmptyState
            icon={<Users size={28} aria-hidden />}
            title={activeCount > 0 ? t('leads:list.emptyFiltered') : t('leads:list.empty')}
            description={activeCount > 0 ? undefined : t('leads:list.emptyHint')}
          />
        ) : (
          <div className="lead-table" role="table" aria-label={t('leads:list.rows')} aria-rowcount={hasNextPage ? -1 : rows.length + 1}>
            <div className="lead-row lead-head" role="row">
              <span role="columnheader" className="lead-check">
                {canWrite && (
                  <input
                    type="checkbox"
                    aria-label={t('leads:list.selectAll')}
                    checked={allSelected}
                    onChange={() => setSelected(allSelected ? new Set() : new Set(rows.map((r) => r.id)))}
                  />
                )}
              </span>
              <span role="columnheader">{t('leads:list.col.name')}</span>
              <span role="columnheader">{t('leads:list.col.contact')}</span>
              <span role="columnheader">{t('leads:list.col.status')}</span>
              <span role="columnheader">{t('leads:list.col.source')}</span>
              <span role="columnheader">{t('leads:list.col.campaign')}</span>
              <span role="columnheader">{t('leads:list.col.owner')}</span>
              <span role="columnheader">{t('leads:list.col.tags')}</span>
              <span role="columnheader">{t('leads:list.col.created')}</span>
            </div>
            <VirtualList<Lead>
              items={rows}
              rowHeight={ROW_HEIGHT}
              height={Math.min(viewport, rows.length * ROW_HEIGHT + 2)}
              rowKey={(l) => l.id}
              onNearEnd={loadMore}
              label={t('leads:list.rows')}
              rowClassName={(l) => `lead-row${selected.has(l.id) ? ' lead-row-selected' : ''}`}
              renderRow={(l) => (
                <>
                  <span role="cell" className="lead-check">
                    {canWrite && <input type="checkbox" aria-label={t('leads:list.selectRow', { name: l.name })} checked={selected.has(l.id)} onChange={() => toggle(l.id)} />}
                  </span>
                  <span role="cell" className="lead-cell-name">
                    <Link to={`/crm/leads/${l.id}`}>{l.name}</Link>
                  </span>
                  <span role="cell" className="lead-cell-contact">
                    <span className="mono">{l.phone ?? ''}</span>
                    <span className="muted">{l.email ?? ''}</span>
                  </span>
                  <span role="cell">
                    <StatusBadge status={l.status} />
                  </span>
                  <span role="cell" className="lead-ellipsis" title={t(`channel.${l.channel}`)}>
                    {t(`source.${l.lead_source}`)}
                  </span>
                  <span role="cell" className="lead-ellipsis mono small" title={l.meta_ad_headline ?? undefined}>
                    {l.meta_campaign_id ?? l.utm_campaign ?? ''}
                    {l.meta_ad_id ? ` / ${l.meta_ad_id}` : ''}
                  </span>
                  <span role="cell" className="lead-ellipsis">
                    {ownerName(l.owner_id)}
                  </span>
                  <span role="cell" className="lead-ellipsis">
                    <TagList tags={l.tags} />
                  </span>
                  <span role="cell" className="nowrap">
                    {formatDate(l.created_at, i18n.language, session.tenant.timezone)}
                  </span>
                </>
              )}
            />
            <div className="lead-foot muted small" aria-live="polite">
              {t('leads:list.loaded', { count: rows.length })}
              {isFetchingNextPage ? ` · ${t('leads:list.loadingMore')}` : hasNextPage ? ` · ${t('leads:list.moreAvailable')}` : ''}
            </div>
          </div>
        )}
      </Card>
      <NewLeadDialog open={creating} onClose={() => setCreating(false)} />
    </div>
  );
}
