import { useTranslation } from 'react-i18next';
import { KeyRound, MailCheck, ShieldAlert } from 'lucide-react';
import { ApiError } from '../../../api/client';
import type { User } from '../../../api/types';
import { Button, Dialog, InlineError } from '../../../shared/ui';
import { CopyButton } from '../../../shared/CopyButton';
import { formatDateTime, formatRelative } from '../../../shared/format';
import { useSession } from '../../../shared/session';
import { useResetMemberPassword } from '../api/team';

/**
 * Confirm, then issue a one-time reset link for `user`: the server e-mails it
 * when it can; otherwise the link is shown here to hand over in person.
 */
export function ResetPasswordDialog({ user, onClose }: { user: User | null; onClose: () => void }) {
  const { t, i18n } = useTranslation();
  const session = useSession();
  const reset = useResetMemberPassword();
  const locale = i18n.resolvedLanguage ?? 'es';

  const close = () => {
    reset.reset();
    onClose();
  };
  if (!user) return null;

  const issued = reset.data;
  if (issued) {
    const expires = t('team.resetExpires', {
      date: formatDateTime(issued.expires_at, locale, session.tenant.timezone),
      relative: formatRelative(issued.expires_at, locale),
    });
    return (
      <Dialog open title={t(issued.emailed ? 'team.resetEmailedTitle' : 'team.resetLinkTitle')} onClose={close}>
        {issued.emailed || !issued.reset_url ? (
          <div className="notice notice-success" role="status">
            <MailCheck size={18} aria-hidden />
            <span>{t('team.resetEmailed', { email: user.email })}</span>
          </div>
        ) : (
          <div className="secret-box">
            <div className="notice notice-warning">
              <ShieldAlert size={18} aria-hidden />
              <span>{t('team.resetHandOver', { name: user.name })}</span>
            </div>
            <label className="field-label" htmlFor="reset-link">
              {t('team.resetLinkLabel', { name: user.name })}
            </label>
            <div className="secret-row">
              <input id="reset-link" className="input mono" readOnly value={issued.reset_url} onFocus={(e) => e.currentTarget.select()} data-testid="reset-link" />
              <CopyButton value={issued.reset_url} />
            </div>
          </div>
        )}
        <p className="field-hint">{expires}</p>
        <div className="dialog-actions">
          <Button variant="primary" onClick={close}>
            {t('team.resetDone')}
          </Button>
        </div>
      </Dialog>
    );
  }

  // Only a CEO resets a CEO: say it in those words rather than the role-change message.
  const error = reset.error instanceof ApiError && reset.error.code === 'role_not_grantable' ? new Error(t('team.resetCeoOnly')) : reset.error;
  return (
    <Dialog open title={t('team.resetTitle')} onClose={close}>
      <p>{t('team.resetConfirm', { name: user.name })}</p>
      <p className="muted">{t('team.resetKeepsWorking')}</p>
      <InlineError error={error} />
      <div className="dialog-actions">
        <Button onClick={close}>{t('common.cancel')}</Button>
        <Button variant="primary" loading={reset.isPending} icon={<KeyRound size={16} aria-hidden />} onClick={() => reset.mutate(user.id)}>
          {t('team.resetSubmit')}
        </Button>
      </div>
    </Dialog>
  );
}
