import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Briefcase } from 'lucide-react';
import { Button, Dialog, InlineError, SelectField, TextField, useToast } from '../../../shared/ui';
import { supportedCurrencies } from '../../../shared/format';
import { useCreateOpportunity, useStages } from '../api/leads';
import { parseMajorToMinor } from '../lib/money';

/** Stage names the server creates for every tenant (crm-core DEFAULT_STAGES). */
export const DEFAULT_STAGE_NAMES: Record<string, string> = {
  prospecting: 'Prospecting',
  qualification: 'Qualification',
  proposal: 'Proposal',
  negotiation: 'Negotiation',
  won: 'Won',
  lost: 'Lost',
};

export function OpportunityDialog({ open, onClose, leadId, defaultCurrency }: { open: boolean; onClose: () => void; leadId: string; defaultCurrency: string }) {
  const { t } = useTranslation('leads');
  const toast = useToast();
  const stages = useStages();
  const create = useCreateOpportunity(leadId);
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [currency, setCurrency] = useState(defaultCurrency);
  const [stageId, setStageId] = useState('');
  const [closeDate, setCloseDate] = useState('');
  const [touched, setTouched] = useState(false);

  const close = () => {
    setName('');
    setValue('');
    setCurrency(defaultCurrency);
    setStageId('');
    setCloseDate('');
    setTouched(false);
    create.reset();
    onClose();
  };

  const minor = parseMajorToMinor(value || '0', currency);
  const errors = {
    name: touched && !name.trim() ? t('translation:validation.required') : undefined,
    value: touched && minor === null ? t('leads:opps.invalidAmount', { currency }) : undefined,
  };
  const openStages = (stages.data ?? []).filter((s) => s.kind === 'open');
  // Default stage names are shown translated; names a tenant chose are shown as they are.
  const stageLabel = (s: { key: string; name: string }) => (DEFAULT_STAGE_NAMES[s.key] === s.name ? t(`stages.${s.key}`) : s.name);

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (!name.trim() || minor === null) return;
    create.mutate(
      {
        lead_id: leadId,
        name: name.trim(),
        value_minor: minor,
        currency,
        ...(stageId ? { stage_id: stageId } : {}),
        ...(closeDate ? { expected_close_date: closeDate } : {}),
      },
      {
        onSuccess: (o) => {
          toast.success(t('leads:opps.created', { name: o.name }));
          close();
        },
      },
    );
  };

  return (
    <Dialog open={open} title={t('leads:opps.new')} description={t('leads:opps.newDescription')} onClose={close}>
      <form className="form" onSubmit={onSubmit} noValidate>
        <TextField label={t('leads:opps.name')} name="name" value={name} onChange={(e) => setName(e.target.value)} error={errors.name} />
        <div className="form-grid">
          <TextField label={t('leads:opps.value')} name="value" inputMode="decimal" value={value} onChange={(e) => setValue(e.target.value)} error={errors.value} />
          <SelectField label={t('leads:opps.currency')} name="currency" value={currency} onChange={(e) => setCurrency(e.target.value)} options={supportedCurrencies().map((c) => ({ value: c, label: c }))} />
          <SelectField
            label={t('leads:opps.stage')}
            name="stage"
            value={stageId}
            onChange={(e) => setStageId(e.target.value)}
            options={[{ value: '', label: openStages[0] ? stageLabel(openStages[0]) : '—' }, ...openStages.slice(1).map((s) => ({ value: s.id, label: stageLabel(s) }))]}
          />
          <TextField label={t('leads:opps.expectedClose')} name="expected_close_date" type="date" value={closeDate} onChange={(e) => setCloseDate(e.target.value)} />
        </div>
        <InlineError error={create.error} />
        <div className="dialog-actions">
          <Button onClick={close}>{t('translation:common.cancel')}</Button>
          <Button type="submit" variant="primary" loading={create.isPending} icon={<Briefcase size={16} aria-hidden />}>
            {t('leads:opps.create')}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
