import { useMemo, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, useNavigate } from 'react-router';
import { Rocket } from 'lucide-react';
import { Button, ErrorState, InlineError, LoadingState, SelectField, TextField, fieldErrors } from '../../../shared/ui';
import { useSetupStatus } from '../../../shared/session';
import { browserCountry, browserTimeZone, supportedCountries, supportedCurrencies, supportedTimeZones } from '../../../shared/format';
import { changeLanguage, isLanguage, LANGUAGES } from '../../../i18n';
import { AuthShell } from '../components/AuthShell';
import { useSetup } from '../api/auth';

// Same rule as the server (crm-core validate::password).
export const MIN_PASSWORD_LENGTH = 10;

interface FormState {
  tenant_name: string;
  currency: string;
  timezone: string;
  locale: string;
  country: string;
  name: string;
  email: string;
  password: string;
  confirm: string;
  setup_token: string;
}

export function validateSetup(form: FormState): Partial<Record<keyof FormState, string>> {
  const errors: Partial<Record<keyof FormState, string>> = {};
  if (!form.tenant_name.trim()) errors.tenant_name = 'validation.required';
  if (!form.name.trim()) errors.name = 'validation.required';
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(form.email.trim())) errors.email = 'validation.email';
  if ([...form.password].length < MIN_PASSWORD_LENGTH) errors.password = 'validation.passwordLength';
  if (form.confirm !== form.password) errors.confirm = 'validation.passwordMatch';
  return errors;
}

export function SetupPage() {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const status = useSetupStatus();
  const setup = useSetup();
  const zones = useMemo(supportedTimeZones, []);
  const currencies = useMemo(supportedCurrencies, []);
  const countries = useMemo(() => supportedCountries(i18n.resolvedLanguage ?? 'es'), [i18n.resolvedLanguage]);
  const [form, setForm] = useState<FormState>(() => ({
    tenant_name: '',
    currency: 'USD',
    timezone: browserTimeZone(),
    locale: isLanguage(i18n.resolvedLanguage) ? i18n.resolvedLanguage : 'es',
    country: browserCountry() ?? 'US',
    name: '',
    email: '',
    password: '',
    confirm: '',
    setup_token: '',
  }));
  const [touched, setTouched] = useState(false);

  if (status.isPending) return <LoadingState />;
  if (status.isError) return <ErrorState error={status.error} onRetry={() => void status.refetch()} />;
  if (!status.data.needs_setup && !setup.isSuccess) return <Navigate to="/login" replace />;

  const clientErrors = touched ? validateSetup(form) : {};
  const serverErrors = fieldErrors(setup.error);
  const err = (k: keyof FormState) => (clientErrors[k] ? t(clientErrors[k], { min: MIN_PASSWORD_LENGTH }) : serverErrors[k]);
  const set = (k: keyof FormState) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (Object.keys(validateSetup(form)).length > 0) return;
    if (status.data?.needs_setup_token && !form.setup_token.trim()) return;
    const { confirm: _confirm, setup_token, ...body } = form;
    setup.mutate(
      {
        ...body,
        tenant_name: body.tenant_name.trim(),
        name: body.name.trim(),
        email: body.email.trim(),
        ...(status.data.needs_setup_token ? { setup_token: setup_token.trim() } : {}),
      },
      { onSuccess: () => navigate('/', { replace: true }) },
    );
  };

  return (
    <AuthShell title={t('setup.title')} subtitle={t('setup.subtitle')} wide>
      <form className="form" onSubmit={onSubmit} noValidate>
        {status.data.needs_setup_token && (
          <TextField
            label={t('setup.setupToken')}
            name="setup_token"
            autoComplete="off"
            value={form.setup_token}
            onChange={set('setup_token')}
            hint={t('setup.setupTokenHint')}
            error={touched && !form.setup_token.trim() ? t('validation.required') : undefined}
          />
        )}
        <fieldset className="form-section">
          <legend>{t('setup.companySection')}</legend>
          <TextField label={t('setup.tenantName')} name="tenant_name" value={form.tenant_name} onChange={set('tenant_name')} error={err('tenant_name')} autoFocus />
          <div className="form-grid">
            <SelectField
              label={t('setup.currency')}
              name="currency"
              value={form.currency}
              onChange={set('currency')}
              error={err('currency')}
              hint={t('setup.currencyHint')}
              options={currencies.map((c) => ({ value: c, label: c }))}
            />
            <SelectField label={t('setup.timezone')} name="timezone" value={form.timezone} onChange={set('timezone')} error={err('timezone')} options={zones.map((z) => ({ value: z, label: z }))} />
          </div>
          <div className="form-grid">
            <SelectField
              label={t('setup.country')}
              name="country"
              value={form.country}
              onChange={set('country')}
              error={err('country')}
              hint={t('setup.countryHint')}
              options={countries.map((c) => ({ value: c.code, label: c.name }))}
            />
            <SelectField
              label={t('setup.locale')}
              name="locale"
              value={form.locale}
              onChange={(e) => {
                set('locale')(e);
                if (isLanguage(e.target.value)) void changeLanguage(e.target.value);
              }}
              error={err('locale')}
              options={LANGUAGES.map((l) => ({ value: l, label: t(`language.${l}`) }))}
            />
          </div>
        </fieldset>
        <fieldset className="form-section">
          <legend>{t('setup.ownerSection')}</legend>
          <TextField label={t('setup.name')} name="name" autoComplete="name" value={form.name} onChange={set('name')} error={err('name')} />
          <TextField label={t('auth.email')} name="email" type="email" autoComplete="username" value={form.email} onChange={set('email')} error={err('email')} />
          <div className="form-grid">
            <TextField
              label={t('auth.password')}
              name="password"
              type="password"
              autoComplete="new-password"
              value={form.password}
              onChange={set('password')}
              error={err('password')}
              hint={t('validation.passwordLength', { min: MIN_PASSWORD_LENGTH })}
            />
            <TextField label={t('setup.confirmPassword')} name="confirm" type="password" autoComplete="new-password" value={form.confirm} onChange={set('confirm')} error={err('confirm')} />
          </div>
        </fieldset>
        <InlineError error={setup.error} />
        <Button type="submit" variant="primary" loading={setup.isPending} icon={<Rocket size={16} aria-hidden />} className="btn-block">
          {t('setup.submit')}
        </Button>
      </form>
    </AuthShell>
  );
}
