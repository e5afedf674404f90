import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { UserPlus } from 'lucide-react';
import { ROLES, type Role } from '../../../api/types';
import { Button, Dialog, InlineError, SelectField, TextField, fieldErrors, useToast } from '../../../shared/ui';
import { useCreateUser } from '../api/team';

// Same rule as the server (crm-core validate::password).
const MIN_PASSWORD_LENGTH = 10;

export function AddUserDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useTranslation();
  const toast = useToast();
  const create = useCreateUser();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('seller');
  const [password, setPassword] = useState('');
  const [touched, setTouched] = useState(false);

  const close = () => {
    setName('');
    setEmail('');
    setRole('seller');
    setPassword('');
    setTouched(false);
    create.reset();
    onClose();
  };

  const server = fieldErrors(create.error);
  const errors = {
    name: touched && !name.trim() ? t('validation.required') : server.name,
    email: touched && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim()) ? t('validation.email') : server.email,
    password: touched && [...password].length < MIN_PASSWORD_LENGTH ? t('validation.passwordLength', { min: MIN_PASSWORD_LENGTH }) : server.password,
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (!name.trim() || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim()) || [...password].length < MIN_PASSWORD_LENGTH) return;
    create.mutate(
      { name: name.trim(), email: email.trim(), role, password },
      {
        onSuccess: (user) => {
          toast.success(t('team.added', { name: user.name }));
          close();
        },
      },
    );
  };

  return (
    <Dialog open={open} title={t('team.addTitle')} description={t('team.addDescription')} onClose={close}>
      <form className="form" onSubmit={onSubmit} noValidate>
        <TextField label={t('team.name')} name="name" value={name} onChange={(e) => setName(e.target.value)} error={errors.name} />
        <TextField label={t('auth.email')} name="email" type="email" autoComplete="off" value={email} onChange={(e) => setEmail(e.target.value)} error={errors.email} />
        <SelectField
          label={t('team.role')}
          name="role"
          value={role}
          onChange={(e) => setRole(e.target.value as Role)}
          hint={t(`roleDescriptions.${role}`)}
          options={ROLES.map((r) => ({ value: r, label: t(`roles.${r}`) }))}
        />
        <TextField
          label={t('team.initialPassword')}
          name="password"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={errors.password}
          hint={t('team.initialPasswordHint')}
        />
        <InlineError error={create.error} />
        <div className="dialog-actions">
          <Button onClick={close}>{t('common.cancel')}</Button>
          <Button type="submit" variant="primary" loading={create.isPending} icon={<UserPlus size={16} aria-hidden />}>
            {t('team.addSubmit')}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
