import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { KeyRound, UserPlus, Users, UserX, UserCheck } from 'lucide-react';
import { ROLES, type Role, type User } from '../../../api/types';
import { Badge, Button, Card, DataTable, EmptyState, ErrorState, LoadingState, PageHeader, errorMessage, useToast, type Column } from '../../../shared/ui';
import { useSession } from '../../../shared/session';
import { initials } from '../../../shared/format';
import { useTeam, useUpdateUser } from '../api/team';
import { AddUserDialog } from '../components/AddUserDialog';
import { ResetPasswordDialog } from '../components/ResetPasswordDialog';

export function TeamPage() {
  const { t } = useTranslation();
  const session = useSession();
  const toast = useToast();
  const team = useTeam();
  const update = useUpdateUser();
  const [adding, setAdding] = useState(false);
  const [resetting, setResetting] = useState<User | null>(null);

  const changeRole = (user: User, role: Role) => {
    update.mutate(
      { id: user.id, patch: { role } },
      {
        onSuccess: (u) => toast.success(t('team.roleChanged', { name: u.name, role: t(`roles.${u.role}`) })),
        onError: (err) => toast.error(errorMessage(t, err)),
      },
    );
  };
  const toggleStatus = (user: User) => {
    const status = user.status === 'active' ? 'disabled' : 'active';
    update.mutate(
      { id: user.id, patch: { status } },
      {
        onSuccess: (u) => toast.success(t(u.status === 'active' ? 'team.enabledToast' : 'team.disabledToast', { name: u.name })),
        onError: (err) => toast.error(errorMessage(t, err)),
      },
    );
  };

  const columns: Column<User>[] = [
    {
      key: 'name',
      header: t('team.name'),
      render: (u) => (
        <div className="cell-person">
          <span className="avatar" aria-hidden>
            {initials(u.name)}
          </span>
          <div>
            <div className="cell-strong">
              {u.name} {u.id === session.user.id && <span className="muted">({t('team.you')})</span>}
            </div>
            <div className="muted">{u.email}</div>
          </div>
        </div>
      ),
    },
    {
      key: 'role',
      header: t('team.role'),
      render: (u) => (
        <select
          className="input select input-sm"
          aria-label={t('team.roleFor', { name: u.name })}
          value={u.role}
          disabled={u.id === session.user.id || update.isPending}
          onChange={(e) => changeRole(u, e.target.value as Role)}
        >
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {t(`roles.${r}`)}
            </option>
          ))}
        </select>
      ),
    },
    {
      key: 'status',
      header: t('team.status'),
      render: (u) => <Badge tone={u.status === 'active' ? 'success' : 'neutral'}>{t(`userStatus.${u.status}`)}</Badge>,
    },
    {
      key: 'actions',
      header: t('common.actions'),
      align: 'right',
      render: (u) =>
        u.id === session.user.id ? null : (
          <div className="row-actions">
            {u.status === 'active' && (
              <Button size="sm" variant="ghost" icon={<KeyRound size={15} aria-hidden />} onClick={() => setResetting(u)} aria-label={t('team.resetPasswordFor', { name: u.name })}>
                {t('team.resetPassword')}
              </Button>
            )}
            <Button
              size="sm"
              variant={u.status === 'active' ? 'ghost' : 'secondary'}
              icon={u.status === 'active' ? <UserX size={15} aria-hidden /> : <UserCheck size={15} aria-hidden />}
              disabled={update.isPending}
              onClick={() => toggleStatus(u)}
              aria-label={t(u.status === 'active' ? 'team.disableFor' : 'team.enableFor', { name: u.name })}
            >
              {t(u.status === 'active' ? 'team.disable' : 'team.enable')}
            </Button>
          </div>
        ),
    },
  ];

  return (
    <div className="page">
      <PageHeader
        title={t('team.title')}
        description={t('team.description')}
        actions={
          <Button variant="primary" icon={<UserPlus size={16} aria-hidden />} onClick={() => setAdding(true)}>
            {t('team.add')}
          </Button>
        }
      />
      <Card>
        {team.isPending ? (
          <LoadingState />
        ) : team.isError ? (
          <ErrorState error={team.error} onRetry={() => void team.refetch()} />
        ) : team.data.length === 0 ? (
          <EmptyState icon={<Users size={28} aria-hidden />} title={t('team.empty')} description={t('team.emptyHint')} />
        ) : (
          <DataTable columns={columns} rows={team.data} rowKey={(u) => u.id} caption={t('team.title')} />
        )}
      </Card>
      <AddUserDialog open={adding} onClose={() => setAdding(false)} />
      <ResetPasswordDialog user={resetting} onClose={() => setResetting(null)} />
    </div>
  );
}
