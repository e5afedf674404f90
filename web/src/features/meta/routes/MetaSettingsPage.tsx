import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { CheckCircle2, PlugZap, RefreshCw, Unplug, XCircle } from 'lucide-react';
import { Badge, Button, Card, Dialog, ErrorState, InlineError, LoadingState, PageHeader, type BadgeTone, useToast } from '../../../shared/ui';
import { formatDateTime } from '../../../shared/format';
import { type ConnectionTest, useDisconnect, useStartOAuth, useTestConnection, useTokenStatus } from '../api/meta';
import { MetaConnectionWizard, type WizardStep } from '../components/MetaConnectionWizard';
import '../i18n';
import '../meta.css';

export function statusTone(status: string): BadgeTone {
  switch (status) {
    case 'ok':
      return 'success';
    case 'expiring':
    case 'missing_scopes':
      return 'warning';
    case 'expired':
    case 'invalid':
      return 'danger';
    default:
      return 'neutral';
  }
}

/** Settings → Meta: the connection, its scopes and expiry, test, disconnect, and the wizard. */
export function MetaSettingsPage() {
  const { t, i18n } = useTranslation('meta');
  const [params, setParams] = useSearchParams();
  const status = useTokenStatus();
  const test = useTestConnection();
  const disconnect = useDisconnect();
  const start = useStartOAuth();
  const toast = useToast();
  const [confirm, setConfirm] = useState(false);
  const metaError = params.get('meta_error');
  const justConnected = params.get('connected') === '1';
  const [wizardOpen, setWizardOpen] = useState(justConnected || !!metaError || params.get('reconnect') === '1');

  if (status.isLoading) return <LoadingState />;
  if (status.error || !status.data) return <ErrorState error={status.error} onRetry={() => void status.refetch()} />;
  const s = status.data;
  const locale = i18n.language;
  const showWizard = wizardOpen || !s.connected;
  // Back from Meta: pick the assets, or (a reconnect that kept them) show the success step.
  const initialStep: WizardStep | undefined = justConnected ? (s.ad_account ? 'done' : 'business') : undefined;
  const reconnect = () => start.mutate('settings');

  return (
    <div className="page" data-testid="meta-settings">
      <PageHeader title={t('settingsTitle')} description={t('settingsSubtitle')} />
      <Card
        title={t('settings.connection')}
        actions={
          <Badge tone={statusTone(s.status)}>
            <span data-testid="meta-status">{t(`status.${s.status}`)}</span>
          </Badge>
        }
      >
        {s.connected ? (
          <dl className="meta-dl">
            <dt>{t('settings.connectedAs')}</dt>
            <dd>{s.meta_user_name ?? '—'}</dd>
            <dt>{t('settings.source')}</dt>
            <dd>{s.source === 'system_user' ? t('settings.sourceSystemUser') : t('settings.sourceOauth')}</dd>
            <dt>{t('settings.expires')}</dt>
            <dd>
              {s.expires_at
                ? s.status === 'expired' || s.status === 'invalid'
                  ? t(`status.${s.status}`)
                  : `${formatDateTime(s.expires_at, locale)} · ${t('settings.daysLeft', { count: s.days_left ?? 0 })}`
                : t('settings.never')}
            </dd>
            {s.checked_at && (
              <>
                <dt>{t('settings.checked')}</dt>
                <dd>{formatDateTime(s.checked_at, locale)}</dd>
              </>
            )}
            <dt>{t('settings.scopes')}</dt>
            <dd className="meta-scopes">
              {s.scopes.map((sc) => (
                <Badge key={sc}>{sc}</Badge>
              ))}
            </dd>
            {s.missing_scopes.length > 0 && (
              <>
                <dt>{t('settings.missing')}</dt>
                <dd className="meta-scopes">
                  {s.missing_scopes.map((sc) => (
                    <Badge key={sc} tone="warning">
                      {sc}
                    </Badge>
                  ))}
                </dd>
              </>
            )}
            <dt>{t('settings.adAccount')}</dt>
            <dd data-testid="meta-ad-account-selected">
              {s.ad_account ? `${s.ad_account.name ?? s.ad_account.id} (${s.ad_account.id}, ${s.ad_account.currency ?? ''})` : t('settings.none')}
            </dd>
            <dt>{t('settings.whatsapp')}</dt>
            <dd>
              {s.whatsapp
                ? `${s.whatsapp.waba_name ?? s.whatsapp.waba_id}: ${s.whatsapp.phone_numbers.map((p) => p.display_phone_number ?? p.id).join(', ')}`
                : t('settings.none')}
            </dd>
            <dt>{t('settings.pages')}</dt>
            <dd>{s.pages.length ? s.pages.map((p) => p.name ?? p.id).join(', ') : t('settings.none')}</dd>
          </dl>
        ) : (
          <p>{t('settings.notConnectedTitle')}</p>
        )}
        {s.connected && (
          <div className="meta-actions">
            <Button icon={<PlugZap size={16} aria-hidden />} loading={test.isPending} onClick={() => test.mutate()} data-testid="meta-test">
              {t('settings.test')}
            </Button>
            <Button icon={<RefreshCw size={16} aria-hidden />} loading={start.isPending} onClick={reconnect} data-testid="meta-reconnect">
              {t('settings.reconnect')}
            </Button>
            <Button onClick={() => setWizardOpen(true)}>{t('wizard.change')}</Button>
            <Button variant="danger" icon={<Unplug size={16} aria-hidden />} onClick={() => setConfirm(true)}>
              {t('settings.disconnect')}
            </Button>
          </div>
        )}
        <InlineError error={test.error ?? start.error} />
        {test.data && <TestResult result={test.data} />}
      </Card>
      {showWizard && (
        <Card title={t('wizard.title')}>
          <MetaConnectionWizard
            returnTo="settings"
            metaError={metaError}
            {...(initialStep ? { initialStep } : {})}
            onFinished={() => {
              setWizardOpen(false);
              setParams({}, { replace: true });
            }}
          />
        </Card>
      )}
      <Dialog
        open={confirm}
        title={t('settings.disconnectTitle')}
        description={t('settings.disconnectText')}
        onClose={() => setConfirm(false)}
        footer={
          <>
            <Button variant="ghost" onClick={() => setConfirm(false)}>
              {t('wizard.back')}
            </Button>
            <Button
              variant="danger"
              loading={disconnect.isPending}
              onClick={() =>
                disconnect.mutate(undefined, {
                  onSuccess: () => {
                    setConfirm(false);
                    toast.success(t('settings.disconnected'));
                  },
                })
              }
            >
              {t('settings.disconnect')}
            </Button>
          </>
        }
      >
        <InlineError error={disconnect.error} />
      </Dialog>
    </div>
  );
}

function TestResult({ result }: { result: ConnectionTest }) {
  const { t } = useTranslation('meta');
  return (
    <div data-testid="meta-test-result" data-ok={result.ok}>
      <p className="meta-section-title">{result.ok ? t('settings.testOk') : t('settings.testFailed')}</p>
      <ul className="meta-checks">
        {result.checks.map((c) => (
          <li key={c.name} className="meta-check">
            {c.ok ? <CheckCircle2 size={16} color="#1f6b35" aria-hidden /> : <XCircle size={16} color={c.skipped ? '#8a8f98' : '#8a1c1c'} aria-hidden />}
            <strong>{t(`checks.${c.name}`, { defaultValue: c.name })}</strong>
            <span>{c.skipped ? t('checks.skipped') : c.detail}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
