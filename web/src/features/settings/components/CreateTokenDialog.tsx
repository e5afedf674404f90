import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { KeyRound, ShieldAlert } from 'lucide-react';
import { ROLES, type CreatedToken, type Role } from '../../../api/types';
import { Button, Dialog, InlineError, SelectField, TextField } from '../../../shared/ui';
import { CopyButton } from '../../../shared/CopyButton';
import { useCreateToken } from '../api/tokens';

export function CreateTokenDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useTranslation();
  const create = useCreateToken();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('seller');
  const [expiry, setExpiry] = useState('90');
  const [touched, setTouched] = useState(false);
  const [created, setCreated] = useState<CreatedToken | null>(null);

  const close = () => {
    setName('');
    setRole('seller');
    setExpiry('90');
    setTouched(false);
    setCreated(null);
    create.reset();
    onClose();
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (!name.trim()) return;
    const expires_in_days = expiry === 'never' ? undefined : Number(expiry);
    create.mutate({ name: name.trim(), role, expires_in_days }, { onSuccess: (result) => setCreated(result) });
  };

  if (created) {
    return (
      <Dialog open={open} title={t('tokens.createdTitle')} onClose={close}>
        <div className="secret-box">
          <div className="notice notice-warning">
            <ShieldAlert size={18} aria-hidden />
            <span>{t('tokens.secretOnce')}</span>
          </div>
          <label className="field-label" htmlFor="token-secret">
            {t('tokens.secretLabel', { name: created.token.name })}
          </label>
          <div className="secret-row">
            <input id="token-secret" className="input mono" readOnly value={created.secret} onFocus={(e) => e.currentTarget.select()} data-testid="token-secret" />
            <CopyButton value={created.secret} />
          </div>
          <p className="field-hint">{t('tokens.usage')}</p>
        </div>
        <div className="dialog-actions">
          <Button variant="primary" onClick={close}>
            {t('tokens.done')}
          </Button>
        </div>
      </Dialog>
    );
  }

  return (
    <Dialog open={open} title={t('tokens.createTitle')} description={t('tokens.createDescription')} onClose={close}>
      <form className="form" onSubmit={onSubmit} noValidate>
        <TextField
          label={t('tokens.name')}
          name="name"
          placeholder={t('tokens.namePlaceholder')}
          value={name}
          onChange={(e) => setName(e.target.value)}
          error={touched && !name.trim() ? t('validation.required') : undefined}
        />
        <SelectField
          label={t('tokens.role')}
          name="role"
          value={role}
          onChange={(e) => setRole(e.target.value as Role)}
          hint={t(`roleDescriptions.${role}`)}
          options={ROLES.map((r) => ({ value: r, label: t(`roles.${r}`) }))}
        />
        <SelectField
          label={t('tokens.expiry')}
          name="expiry"
          value={expiry}
          onChange={(e) => setExpiry(e.target.value)}
          hint={t('tokens.expiryHint')}
          options={[
            ...['30', '90', '365'].map((d) => ({ value: d, label: t('tokens.expiryDays', { count: Number(d) }) })),
            { value: 'never', label: t('tokens.expiryNever') },
          ]}
        />
        <InlineError error={create.error} />
        <div className="dialog-actions">
          <Button onClick={close}>{t('common.cancel')}</Button>
          <Button type="submit" variant="primary" loading={create.isPending} icon={<KeyRound size={16} aria-hidden />}>
            {t('tokens.createSubmit')}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
