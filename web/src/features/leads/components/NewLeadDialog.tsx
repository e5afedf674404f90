import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';
import { UserPlus } from 'lucide-react';
import { Button, Dialog, InlineError, SelectField, TextField, fieldErrors, useToast } from '../../../shared/ui';
import { duplicateLeadId, useCreateLead } from '../api/leads';
import { LEAD_STATUSES, type LeadStatus } from '../api/types';

export function splitTags(text: string): string[] {
  return [...new Set(text.split(',').map((s) => s.trim()).filter(Boolean))];
}

export function NewLeadDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useTranslation('leads');
  const toast = useToast();
  const navigate = useNavigate();
  const create = useCreateLead();
  const [name, setName] = useState('');
  const [phone, setPhone] = useState('');
  const [email, setEmail] = useState('');
  const [waId, setWaId] = useState('');
  const [status, setStatus] = useState<LeadStatus>('new');
  const [tags, setTags] = useState('');
  const [missing, setMissing] = useState(false);

  const close = () => {
    setName('');
    setPhone('');
    setEmail('');
    setWaId('');
    setStatus('new');
    setTags('');
    setMissing(false);
    create.reset();
    onClose();
  };

  const existing = duplicateLeadId(create.error);
  const server = fieldErrors(create.error);

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (![name, phone, email, waId].some((v) => v.trim())) {
      setMissing(true);
      return;
    }
    setMissing(false);
    const opt = (v: string) => (v.trim() ? v.trim() : null);
    create.mutate(
      { name: opt(name), phone: opt(phone), email: opt(email), wa_id: opt(waId), status, tags: splitTags(tags) },
      {
        onSuccess: (lead) => {
          toast.success(t('leads:create.created', { name: lead.name }));
          close();
          void navigate(`/crm/leads/${lead.id}`);
        },
      },
    );
  };

  return (
    <Dialog open={open} title={t('leads:create.title')} description={t('leads:create.description')} onClose={close}>
      <form className="form" onSubmit={onSubmit} noValidate>
        <TextField label={t('leads:create.name')} name="name" value={name} onChange={(e) => setName(e.target.value)} error={server.name} />
        <div className="form-grid">
          <TextField label={t('leads:create.phone')} name="phone" type="tel" value={phone} onChange={(e) => setPhone(e.target.value)} hint={t('leads:create.phoneHint')} error={server.phone} />
          <TextField label={t('leads:create.email')} name="email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} error={server.email} />
          <TextField label={t('leads:create.waId')} name="wa_id" value={waId} onChange={(e) => setWaId(e.target.value)} error={server.wa_id} />
          <SelectField
            label={t('leads:create.status')}
            name="status"
            value={status}
            onChange={(e) => setStatus(e.target.value as LeadStatus)}
            options={LEAD_STATUSES.map((s) => ({ value: s, label: t(`status.${s}`) }))}
          />
        </div>
        <TextField label={t('leads:create.tags')} name="tags" value={tags} onChange={(e) => setTags(e.target.value)} hint={t('leads:create.tagsHint')} />
        {missing && (
          <p className="field-error" role="alert">
            {t('leads:create.needIdentity')}
          </p>
        )}
        {existing ? (
          <div className="inline-error" role="alert">
            <span>{t('leads:create.duplicate')}</span>{' '}
            <Link to={`/crm/leads/${existing}`} onClick={close}>
              {t('leads:create.openExisting')}
            </Link>
          </div>
        ) : (
          <InlineError error={create.error} />
        )}
        <div className="dialog-actions">
          <Button onClick={close}>{t('translation:common.cancel')}</Button>
          <Button type="submit" variant="primary" loading={create.isPending} icon={<UserPlus size={16} aria-hidden />}>
            {t('leads:create.submit')}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
