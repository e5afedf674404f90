import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { KeyRound, Plus, Trash2 } from 'lucide-react';
import type { ApiToken } from '../../../api/types';
import { Badge, Button, Card, DataTable, Dialog, EmptyState, ErrorState, InlineError, LoadingState, PageHeader, RoleBadge, useToast, type Column } from '../../../shared/ui';
import { formatDateTime, formatRelative } from '../../../shared/format';
import { useSession } from '../../../shared/session';
import { useRevokeToken, useTokens } from '../api/tokens';
import { CreateTokenDialog } from '../components/CreateTokenDialog';

export function TokensPage() {
  const { t, i18n } = useTranslation();
  const session = useSession();
  const toast = useToast();
  const tokens = useTokens();
  const revoke = useRevokeToken();
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const locale = i18n.resolvedLanguage ?? 'es';
  const tz = session.tenant.timezone;

  const columns: Column<ApiToken>[] = [
    { key: 'name', header: t('tokens.name'), render: (tok) => <span className="cell-strong">{tok.name}</span> },
    { key: 'role', header: t('tokens.role'), render: (tok) => <RoleBadge role={tok.role} /> },
    { key: 'created', header: t('tokens.created'), render: (tok) => formatDateTime(tok.created_at, locale, tz) },
    {
      key: 'used',
      header: t('tokens.lastUsed'),
      render: (tok) => (tok.last_used_at ? <span title={formatDateTime(tok.last_used_at, locale, tz)}>{formatRelative(tok.last_used_at, locale)}</span> : <span className="muted">{t('tokens.neverUsed')}</span>),
    },
    {
      key: 'expires',
      header: t('tokens.expires'),
      render: (tok) => (tok.expires_at ? formatDateTime(tok.expires_at, locale, tz) : <span className="muted">{t('tokens.noExpiry')}</span>),
    },
    {
      key: 'status',
      header: t('tokens.status'),
      render: (tok) =>
        tok.revoked_at ? (
          <Badge tone="neutral">{t('tokens.revoked')}</Badge>
        ) : tok.expires_at && new Date(tok.expires_at).getTime() <= Date.now() ? (
          <Badge tone="neutral">{t('tokens.expired')}</Badge>
        ) : (
          <Badge tone="success">{t('tokens.active')}</Badge>
        ),
    },
    {
      key: 'actions',
      header: t('common.actions'),
      align: 'right',
      render: (tok) =>
        tok.revoked_at ? null : (
          <Button size="sm" variant="ghost" icon={<Trash2 size={15} aria-hidden />} onClick={() => setRevoking(tok)} aria-label={t('tokens.revokeFor', { name: tok.name })}>
            {t('tokens.revoke')}
          </Button>
        ),
    },
  ];

  const confirmRevoke = () => {
    if (!revoking) return;
    revoke.mutate(revoking.id, {
      onSuccess: () => {
        toast.success(t('tokens.revokedToast', { name: revoking.name }));
        setRevoking(null);
      },
    });
  };

  return (
    <div className="page">
      <PageHeader
        title={t('tokens.title')}
        description={t('tokens.description')}
        actions={
          <Button variant="primary" icon={<Plus size={16} aria-hidden />} onClick={() => setCreating(true)}>
            {t('tokens.create')}
          </Button>
        }
      />
      <Card>
        {tokens.isPending ? (
          <LoadingState />
        ) : tokens.isError ? (
          <ErrorState error={tokens.error} onRetry={() => void tokens.refetch()} />
        ) : tokens.data.length === 0 ? (
          <EmptyState icon={<KeyRound size={28} aria-hidden />} title={t('tokens.empty')} description={t('tokens.emptyHint')} />
        ) : (
          <DataTable columns={columns} rows={tokens.data} rowKey={(tok) => tok.id} caption={t('tokens.title')} />
        )}
      </Card>
      <CreateTokenDialog open={creating} onClose={() => setCreating(false)} />
      <Dialog
        open={revoking !== null}
        title={t('tokens.revokeTitle')}
        onClose={() => {
          setRevoking(null);
          revoke.reset();
        }}
      >
        <p>{t('tokens.revokeConfirm', { name: revoking?.name ?? '' })}</p>
        <InlineError error={revoke.error} />
        <div className="dialog-actions">
          <Button
            onClick={() => {
              setRevoking(null);
              revoke.reset();
            }}
          >
            {t('common.cancel')}
          </Button>
          <Button variant="danger" loading={revoke.isPending} icon={<Trash2 size={16} aria-hidden />} onClick={confirmRevoke}>
            {t('tokens.revoke')}
          </Button>
        </div>
      </Dialog>
    </div>
  );
}
