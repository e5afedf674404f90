import { useEffect, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useLocation, useNavigate } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { ArrowLeft, KeyRound, Link2Off } from 'lucide-react';
import { ApiError } from '../../../api/client';
import { Button, InlineError, TextField, errorMessage } from '../../../shared/ui';
import { SESSION_KEY } from '../../../shared/session';
import { AuthShell } from '../components/AuthShell';
import { useCompletePasswordReset } from '../api/auth';
import { MIN_PASSWORD_LENGTH, isNewPasswordError, validateNewPassword } from '../password';

/** The token of a reset link, `…/reset-password#token=crm_reset_…`. */
export function tokenFromHash(hash: string): string | null {
  const token = new URLSearchParams(hash.replace(/^#/, '')).get('token')?.trim();
  return token ? token : null;
}

/** Where a reset link lands: choose a new password, then sign in with it. */
export function ResetPasswordPage() {
  const { t } = useTranslation();
  const location = useLocation();
  const navigate = useNavigate();
  const client = useQueryClient();
  const complete = useCompletePasswordReset();
  // Read once: the fragment is removed from the address bar right after.
  const [token] = useState(() => tokenFromHash(location.hash));
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [touched, setTouched] = useState(false);

  useEffect(() => {
    // The secret should not stay in the address bar or the browser history.
    if (location.hash) navigate({ pathname: location.pathname, search: location.search }, { replace: true });
  }, [location.hash, location.pathname, location.search, navigate]);

  const back = (
    <Link to="/login" className="auth-link">
      <ArrowLeft size={15} aria-hidden />
      <span>{t('auth.backToLogin')}</span>
    </Link>
  );

  const spent = complete.error instanceof ApiError && complete.error.code === 'reset_token_invalid';
  if (!token || spent) {
    return (
      <AuthShell title={t('auth.resetTitle')}>
        <div className="form">
          <div className="notice notice-warning" role="alert">
            <Link2Off size={18} aria-hidden />
            <span>{token ? t('errors.reset_token_invalid') : t('auth.resetMissingToken')}</span>
          </div>
          <Link to="/forgot-password" className="btn btn-primary btn-block">
            <span>{t('auth.requestNewLink')}</span>
          </Link>
          {back}
        </div>
      </AuthShell>
    );
  }

  const clientErrors = touched ? validateNewPassword(password, repeat) : {};
  const passwordError = clientErrors.password
    ? t(clientErrors.password, { min: MIN_PASSWORD_LENGTH })
    : isNewPasswordError(complete.error)
      ? errorMessage(t, complete.error)
      : undefined;

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (Object.keys(validateNewPassword(password, repeat)).length > 0) return;
    complete.mutate(
      { token, new_password: password },
      {
        onSuccess: () => {
          // Every session of that user ended on the server: ask again on the login page.
          client.removeQueries({ queryKey: SESSION_KEY });
          navigate('/login', { replace: true, state: { notice: 'passwordReset' } });
        },
      },
    );
  };

  return (
    <AuthShell title={t('auth.resetTitle')} subtitle={t('auth.resetSubtitle')}>
      <form className="form" onSubmit={onSubmit} noValidate>
        <TextField
          label={t('auth.newPassword')}
          type="password"
          name="new_password"
          autoComplete="new-password"
          autoFocus
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={passwordError}
          hint={t('validation.passwordLengthHint', { min: MIN_PASSWORD_LENGTH })}
        />
        <TextField
          label={t('auth.repeatPassword')}
          type="password"
          name="repeat_password"
          autoComplete="new-password"
          value={repeat}
          onChange={(e) => setRepeat(e.target.value)}
          error={clientErrors.repeat ? t(clientErrors.repeat) : undefined}
        />
        {!isNewPasswordError(complete.error) && <InlineError error={complete.error} />}
        <Button type="submit" variant="primary" loading={complete.isPending} icon={<KeyRound size={16} aria-hidden />} className="btn-block">
          {t('auth.resetSubmit')}
        </Button>
        {back}
      </form>
    </AuthShell>
  );
}
