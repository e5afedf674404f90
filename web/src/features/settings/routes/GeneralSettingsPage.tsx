import { useMemo, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Save } from 'lucide-react';
import type { Tenant } from '../../../api/types';
import { Button, Card, ErrorState, InlineError, LoadingState, PageHeader, SelectField, TextField, fieldErrors, useToast } from '../../../shared/ui';
import { supportedCountries, supportedCurrencies, supportedTimeZones } from '../../../shared/format';
import { LANGUAGES } from '../../../i18n';
import { useTenant, useUpdateTenant } from '../api/tenant';

export function GeneralSettingsPage() {
  const { t } = useTranslation();
  const tenant = useTenant();
  return (
    <div className="page">
      <PageHeader title={t('settings.generalTitle')} description={t('settings.generalDescription')} />
      <Card>
        {tenant.isPending ? (
          <LoadingState />
        ) : tenant.isError ? (
          <ErrorState error={tenant.error} onRetry={() => void tenant.refetch()} />
        ) : (
          <TenantForm key={tenant.data.id} tenant={tenant.data} />
        )}
      </Card>
    </div>
  );
}

function TenantForm({ tenant }: { tenant: Tenant }) {
  const { t, i18n } = useTranslation();
  const toast = useToast();
  const update = useUpdateTenant();
  const zones = useMemo(supportedTimeZones, []);
  const currencies = useMemo(supportedCurrencies, []);
  const countries = useMemo(() => supportedCountries(i18n.resolvedLanguage ?? 'es'), [i18n.resolvedLanguage]);
  const [form, setForm] = useState({ name: tenant.name, currency: tenant.currency, timezone: tenant.timezone, locale: tenant.locale, country: tenant.country });
  const server = fieldErrors(update.error);
  const withCurrent = (list: string[], current: string) => (list.includes(current) ? list : [current, ...list]);
  const changed = (Object.keys(form) as (keyof typeof form)[]).some((k) => form[k] !== tenant[k]);

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (!form.name.trim()) return;
    update.mutate({ ...form, name: form.name.trim() }, { onSuccess: () => toast.success(t('settings.saved')) });
  };

  return (
    <form className="form form-narrow" onSubmit={onSubmit} noValidate>
      <TextField
        label={t('setup.tenantName')}
        name="name"
        value={form.name}
        onChange={(e) => setForm({ ...form, name: e.target.value })}
        error={!form.name.trim() ? t('validation.required') : server.name}
      />
      <div className="form-grid">
        <SelectField
          label={t('setup.currency')}
          name="currency"
          value={form.currency}
          hint={t('setup.currencyHint')}
          onChange={(e) => setForm({ ...form, currency: e.target.value })}
          error={server.currency}
          options={withCurrent(currencies, form.currency).map((c) => ({ value: c, label: c }))}
        />
        <SelectField
          label={t('setup.timezone')}
          name="timezone"
          value={form.timezone}
          onChange={(e) => setForm({ ...form, timezone: e.target.value })}
          error={server.timezone}
          options={withCurrent(zones, form.timezone).map((z) => ({ value: z, label: z }))}
        />
      </div>
      <div className="form-grid">
        <SelectField
          label={t('setup.country')}
          name="country"
          value={form.country}
          hint={t('setup.countryHint')}
          onChange={(e) => setForm({ ...form, country: e.target.value })}
          error={server.country}
          options={withCurrent(
            countries.map((c) => c.code),
            form.country,
          ).map((code) => ({ value: code, label: countries.find((c) => c.code === code)?.name ?? code }))}
        />
        <SelectField
          label={t('setup.locale')}
          name="locale"
          value={form.locale}
          onChange={(e) => setForm({ ...form, locale: e.target.value })}
          error={server.locale}
          options={withCurrent([...LANGUAGES], form.locale).map((l) => ({ value: l, label: t(`language.${l}`, { defaultValue: l }) }))}
        />
      </div>
      <InlineError error={update.error} />
      <div>
        <Button type="submit" variant="primary" disabled={!changed} loading={update.isPending} icon={<Save size={16} aria-hidden />}>
          {t('common.save')}
        </Button>
      </div>
    </form>
  );
}
