import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { KeyRound, Lock } from 'lucide-react';
import { ApiError } from '../../../api/client';
import { Button, Card, InlineError, TextField, errorMessage, useToast } from '../../../shared/ui';
import { MIN_PASSWORD_LENGTH, isNewPasswordError, validateNewPassword } from '../../auth/password';
import { useChangePassword } from '../api/account';

/** Current, new and repeated password; the server signs out the other sessions. */
export function ChangePasswordCard() {
  const { t } = useTranslation();
  const toast = useToast();
  const change = useChangePassword();
  const [current, setCurrent] = useState('');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [touched, setTouched] = useState(false);

  const clientErrors = touched ? validateNewPassword(password, repeat) : {};
  const wrongCurrent = change.error instanceof ApiError && change.error.code === 'wrong_current_password';
  const errors = {
    current: touched && !current ? t('validation.required') : wrongCurrent ? errorMessage(t, change.error) : undefined,
    password: clientErrors.password
      ? t(clientErrors.password, { min: MIN_PASSWORD_LENGTH })
      : isNewPasswordError(change.error)
        ? errorMessage(t, change.error)
        : undefined,
    repeat: clientErrors.repeat ? t(clientErrors.repeat) : undefined,
  };
  const otherError = change.error && !wrongCurrent && !isNewPasswordError(change.error) ? change.error : null;

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (!current || Object.keys(validateNewPassword(password, repeat)).length > 0) return;
    change.mutate(
      { current_password: current, new_password: password },
      {
        onSuccess: () => {
          toast.success(t('account.changed'));
          setCurrent('');
          setPassword('');
          setRepeat('');
          setTouched(false);
        },
      },
    );
  };

  return (
    <Card
      title={
        <span className="title-with-icon">
          <Lock size={18} aria-hidden /> {t('account.passwordTitle')}
        </span>
      }
    >
      <form className="form" onSubmit={onSubmit} noValidate aria-label={t('account.passwordTitle')}>
        <p className="muted">{t('account.passwordIntro')}</p>
        <TextField
          label={t('account.currentPassword')}
          type="password"
          name="current_password"
          autoComplete="current-password"
          value={current}
          onChange={(e) => setCurrent(e.target.value)}
          error={errors.current}
        />
        <TextField
          label={t('auth.newPassword')}
          type="password"
          name="new_password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={errors.password}
          hint={t('validation.passwordLengthHint', { min: MIN_PASSWORD_LENGTH })}
        />
        <TextField
          label={t('auth.repeatPassword')}
          type="password"
          name="repeat_password"
          autoComplete="new-password"
          value={repeat}
          onChange={(e) => setRepeat(e.target.value)}
          error={errors.repeat}
        />
        <InlineError error={otherError} />
        <div className="account-form-actions">
          <Button type="submit" variant="primary" loading={change.isPending} icon={<KeyRound size={16} aria-hidden />}>
            {t('account.changeSubmit')}
          </Button>
        </div>
      </form>
    </Card>
  );
}
