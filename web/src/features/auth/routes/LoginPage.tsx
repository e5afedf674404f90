import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, Navigate, useLocation, useNavigate, useSearchParams } from 'react-router';
import { CheckCircle2, LogIn } from 'lucide-react';
import { Button, InlineError, LoadingState, TextField } from '../../../shared/ui';
import { useSessionQuery } from '../../../shared/session';
import { AuthShell } from '../components/AuthShell';
import { useLogin } from '../api/auth';
import { safeNext } from '../safeNext';

export function LoginPage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const location = useLocation();
  // Set by the reset-password page after a new password was saved.
  const passwordReset = (location.state as { notice?: string } | null)?.notice === 'passwordReset';
  const next = safeNext(params.get('next'));
  const session = useSessionQuery();
  const login = useLogin();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');

  if (session.isPending) return <LoadingState />;
  if (session.data) return <Navigate to={next} replace />;

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    login.mutate({ email: email.trim(), password }, { onSuccess: () => navigate(next, { replace: true }) });
  };

  return (
    <AuthShell title={t('auth.loginTitle')} subtitle={t('auth.loginSubtitle')}>
      <form className="form" onSubmit={onSubmit} noValidate={false}>
        {passwordReset && !login.error && (
          <div className="notice notice-success" role="status">
            <CheckCircle2 size={18} aria-hidden />
            <span>{t('auth.resetDone')}</span>
          </div>
        )}
        <TextField label={t('auth.email')} type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <TextField
          label={t('auth.password')}
          type="password"
          name="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <div className="auth-row-end">
          {/* The address typed so far goes along in router state, never in the URL. */}
          <Link to="/forgot-password" state={{ email: email.trim() }} className="auth-link">
            {t('auth.forgotLink')}
          </Link>
        </div>
        <InlineError error={login.error} />
        <Button type="submit" variant="primary" loading={login.isPending} icon={<LogIn size={16} aria-hidden />} className="btn-block">
          {t('auth.signIn')}
        </Button>
      </form>
    </AuthShell>
  );
}
