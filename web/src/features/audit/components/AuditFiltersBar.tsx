import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Filter, X } from 'lucide-react';
import { Button, TextField } from '../../../shared/ui';

export interface AuditFilterForm {
  action: string;
  resource_type: string;
  user_id: string;
  since: string;
  until: string;
}

export const EMPTY_FILTERS: AuditFilterForm = { action: '', resource_type: '', user_id: '', since: '', until: '' };

export function AuditFiltersBar({ value, onApply }: { value: AuditFilterForm; onApply: (f: AuditFilterForm) => void }) {
  const { t } = useTranslation();
  const [draft, setDraft] = useState(value);
  const [prev, setPrev] = useState(value);
  if (prev !== value) {
    // Filters changed from outside (e.g. clicking a user in the table): show them.
    setPrev(value);
    setDraft(value);
  }
  const set = (k: keyof AuditFilterForm) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [k]: e.target.value }));
  const rangeInvalid = draft.since !== '' && draft.until !== '' && draft.since > draft.until;
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (rangeInvalid) return;
    onApply({ ...draft, action: draft.action.trim(), resource_type: draft.resource_type.trim(), user_id: draft.user_id.trim() });
  };
  const active = Object.values(value).some((v) => v !== '');
  return (
    <form className="filters" onSubmit={onSubmit} aria-label={t('audit.filters')}>
      <TextField label={t('audit.action')} name="action" placeholder={t('audit.actionPlaceholder')} value={draft.action} onChange={set('action')} />
      <TextField label={t('audit.resourceType')} name="resource_type" placeholder={t('audit.resourcePlaceholder')} value={draft.resource_type} onChange={set('resource_type')} />
      <TextField label={t('audit.userId')} name="user_id" value={draft.user_id} onChange={set('user_id')} />
      <TextField label={t('audit.since')} name="since" type="date" value={draft.since} onChange={set('since')} />
      <TextField label={t('audit.until')} name="until" type="date" value={draft.until} onChange={set('until')} error={rangeInvalid ? t('audit.rangeInvalid') : undefined} />
      <div className="filters-actions">
        <Button type="submit" variant="primary" icon={<Filter size={16} aria-hidden />}>
          {t('audit.apply')}
        </Button>
        {active && (
          <Button icon={<X size={16} aria-hidden />} onClick={() => onApply(EMPTY_FILTERS)}>
            {t('audit.clear')}
          </Button>
        )}
      </div>
    </form>
  );
}
