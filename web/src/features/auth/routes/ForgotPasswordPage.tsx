import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useLocation } from 'react-router';
import { ArrowLeft, MailCheck, Send, ShieldAlert } from 'lucide-react';
import { ApiError } from '../../../api/client';
import { Button, InlineError, TextField } from '../../../shared/ui';
import { AuthShell } from '../components/AuthShell';
import { useRequestPasswordReset } from '../api/auth';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** "Forgot your password?": asks the server to e-mail a reset link. */
export function ForgotPasswordPage() {
  const { t } = useTranslation();
  const location = useLocation();
  const request = useRequestPasswordReset();
  const [email, setEmail] = useState(() => (location.state as { email?: string } | null)?.email ?? '');
  const [touched, setTouched] = useState(false);

  const unavailable = request.error instanceof ApiError && request.error.code === 'password_reset_unavailable';
  const emailError = touched && !EMAIL.test(email.trim()) ? t('validation.email') : undefined;

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (!EMAIL.test(email.trim())) return;
    request.mutate(email.trim());
  };

  const back = (
    <Link to="/login" className="auth-link">
      <ArrowLeft size={15} aria-hidden />
      <span>{t('auth.backToLogin')}</span>
    </Link>
  );

  if (request.isSuccess) {
    return (
      <AuthShell title={t('auth.forgotTitle')}>
        <div className="form">
          <div className="notice notice-success" role="status">
            <MailCheck size={18} aria-hidden />
            <span>{t('auth.forgotSent')}</span>
          </div>
          <p className="muted small">{t('auth.forgotSentHint')}</p>
          {back}
        </div>
      </AuthShell>
    );
  }

  return (
    <AuthShell title={t('auth.forgotTitle')} subtitle={t('auth.forgotSubtitle')}>
      <form className="form" onSubmit={onSubmit} noValidate>
        <TextField
          label={t('auth.email')}
          type="email"
          name="email"
          autoComplete="username"
          autoFocus
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={emailError}
        />
        {unavailable ? (
          <div className="notice notice-warning" role="alert">
            <ShieldAlert size={18} aria-hidden />
            <span>{t('errors.password_reset_unavailable')}</span>
          </div>
        ) : (
          <InlineError error={request.error} />
        )}
        <Button type="submit" variant="primary" loading={request.isPending} icon={<Send size={16} aria-hidden />} className="btn-block">
          {t('auth.forgotSubmit')}
        </Button>
        {back}
      </form>
    </AuthShell>
  );
}
