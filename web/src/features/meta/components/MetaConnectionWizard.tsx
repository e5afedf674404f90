import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Building2, CheckCircle2, KeyRound, LogIn, Search } from 'lucide-react';
import { Badge, Button, EmptyState, ErrorState, InlineError, LoadingState, TextField } from '../../../shared/ui';
import {
  type AdAccountOption,
  type Portfolio,
  type TokenStatus,
  useAdAccounts,
  useConnectAdAccount,
  useLeadPages,
  usePortfolios,
  useSelectPages,
  useSelectWhatsApp,
  useStartOAuth,
  useSystemUserToken,
  useTokenStatus,
  useWhatsAppAccounts,
} from '../api/meta';
import { useSetupStatus } from '../../../shared/session';
import '../i18n';
import '../meta.css';

export type WizardStep = 'connect' | 'business' | 'account' | 'assets' | 'done';
const STEPS: WizardStep[] = ['connect', 'business', 'account', 'assets', 'done'];

export interface MetaConnectionWizardProps {
  /** Where Meta sends the browser back: the Marketing Hub or Settings → Meta. */
  returnTo: 'marketing' | 'settings';
  /** An OAuth error code from `?meta_error=` to explain. */
  metaError?: string | null;
  /** Start at this step (e.g. `business` right after `?connected=1`). */
  initialStep?: WizardStep;
  onFinished?: () => void;
}

function needsConnect(s: TokenStatus | undefined): boolean {
  return !s || !s.connected || s.status === 'expired' || s.status === 'invalid';
}

/**
 * Connect Meta in five steps: the OAuth redirect, the business portfolio, the
 * ad account (cards with name, currency and status, a search box, or a pasted
 * `act_` id), the WhatsApp number and Lead Ads pages, and a success screen.
 * Every empty or error state offers a way out (reconnect or grant missing
 * permissions).
 */
export function MetaConnectionWizard({ returnTo, metaError, initialStep, onFinished }: MetaConnectionWizardProps) {
  const { t } = useTranslation('meta');
  const status = useTokenStatus();
  const [chosenStep, setStep] = useState<WizardStep | null>(initialStep ?? null);
  const [portfolio, setPortfolio] = useState<Portfolio | null>(null);
  const start = useStartOAuth();

  if (status.isLoading) return <LoadingState />;
  if (status.error) return <ErrorState error={status.error} onRetry={() => void status.refetch()} />;
  const step: WizardStep = needsConnect(status.data) ? 'connect' : (chosenStep ?? 'business');
  const reconnect = () => start.mutate(returnTo);

  return (
    <div className="meta-wizard" data-testid="meta-wizard" data-step={step}>
      <ol className="meta-steps" aria-label={t('wizard.title')}>
        {STEPS.map((s, i) => {
          const current = STEPS.indexOf(step);
          const cls = i === current ? 'meta-step meta-step-active' : i < current ? 'meta-step meta-step-done' : 'meta-step';
          return (
            <li key={s} className={cls} aria-current={i === current ? 'step' : undefined}>
              {i + 1}. {t(`wizard.steps.${s}`)}
            </li>
          );
        })}
      </ol>
      {step === 'connect' && <ConnectStep metaError={metaError ?? null} onConnect={reconnect} busy={start.isPending} error={start.error} />}
      {step === 'business' && (
        <BusinessStep
          onPick={(p) => {
            setPortfolio(p);
            setStep('account');
          }}
          onReconnect={reconnect}
        />
      )}
      {step === 'account' && portfolio && (
        <AccountStep portfolio={portfolio} onBack={() => setStep('business')} onDone={() => setStep('assets')} onReconnect={reconnect} />
      )}
      {step === 'account' && !portfolio && <BusinessStep onPick={(p) => setPortfolio(p)} onReconnect={reconnect} />}
      {step === 'assets' && (
        <AssetsStep
          portfolioId={portfolio?.id ?? status.data?.business?.id ?? null}
          current={status.data}
          onBack={() => setStep('account')}
          onDone={() => setStep('done')}
          onReconnect={reconnect}
        />
      )}
      {step === 'done' && (
        <div className="meta-success" data-testid="meta-wizard-done">
          <CheckCircle2 size={40} color="#1f6b35" aria-hidden />
          <h3>{t('wizard.doneTitle')}</h3>
          <p>{t('wizard.doneText', { account: status.data?.ad_account?.name ?? status.data?.ad_account?.id ?? '—' })}</p>
          <div className="meta-actions" style={{ justifyContent: 'center' }}>
            <Button onClick={() => setStep('business')}>{t('wizard.change')}</Button>
            {onFinished && (
              <Button variant="primary" onClick={onFinished}>
                OK
              </Button>
            )}
          </div>
        </div>
      )}
    </div>
  );
}

function ConnectStep({ metaError, onConnect, busy, error }: { metaError: string | null; onConnect: () => void; busy: boolean; error: unknown }) {
  const { t } = useTranslation('meta');
  const [token, setToken] = useState('');
  const systemUser = useSystemUserToken();
  const sandbox = useSetupStatus().data?.meta_sandbox === true;
  const known = metaError && t(`errors.${metaError}`, { defaultValue: '' });
  return (
    <div>
      {metaError && (
        <div className="meta-alert" role="alert" data-testid="meta-error">
          {known || t('errors.generic', { code: metaError })}
        </div>
      )}
      <p>{t('wizard.connectIntro')}</p>
      {sandbox && (
        <p className="meta-banner meta-banner-sandbox" data-testid="meta-wizard-sandbox">
          {t('wizard.sandboxNote')}
        </p>
      )}
      <Button variant="primary" icon={<LogIn size={16} aria-hidden />} loading={busy} onClick={onConnect} data-testid="meta-connect">
        {busy ? t('wizard.redirecting') : t('wizard.connectButton')}
      </Button>
      <InlineError error={error} />
      <details style={{ marginTop: 18 }}>
        <summary>{t('wizard.systemUserTitle')}</summary>
        <form
          className="meta-row"
          onSubmit={(e) => {
            e.preventDefault();
            systemUser.mutate(token.trim(), { onSuccess: () => setToken('') });
          }}
        >
          <TextField
            label={t('wizard.systemUserLabel')}
            hint={t('wizard.systemUserHint')}
            type="password"
            autoComplete="off"
            value={token}
            onChange={(e) => setToken(e.target.value)}
          />
          <Button type="submit" icon={<KeyRound size={16} aria-hidden />} loading={systemUser.isPending} disabled={token.trim().length === 0}>
            {t('wizard.systemUserSave')}
          </Button>
        </form>
        <InlineError error={systemUser.error} />
      </details>
    </div>
  );
}

function BusinessStep({ onPick, onReconnect }: { onPick: (p: Portfolio) => void; onReconnect: () => void }) {
  const { t } = useTranslation('meta');
  const q = usePortfolios(true);
  if (q.isLoading) return <LoadingState />;
  if (q.error) return <ErrorState error={q.error} onRetry={onReconnect} title={t('wizard.tryAgain')} />;
  const items = q.data ?? [];
  if (items.length === 0) {
    return (
      <EmptyState
        title={t('wizard.noBusinesses')}
        action={<Button onClick={onReconnect}>{t('banner.grant')}</Button>}
        icon={<Building2 size={28} aria-hidden />}
      />
    );
  }
  return (
    <div>
      <h3 className="meta-section-title">{t('wizard.pickBusiness')}</h3>
      <div className="meta-grid">
        {items.map((p) => (
          <button type="button" key={p.id} className="meta-option" onClick={() => onPick(p)} data-testid="meta-business">
            <span className="meta-option-title">{p.name ?? p.id}</span>
            <span className="meta-option-meta">ID {p.id}</span>
          </button>
        ))}
      </div>
    </div>
  );
}

function accountTone(status: string | null | undefined) {
  if (status === 'ACTIVE') return 'success' as const;
  if (status === 'DISABLED' || status === 'CLOSED' || status === 'PENDING_CLOSURE') return 'danger' as const;
  return 'warning' as const;
}

function AccountStep({ portfolio, onBack, onDone, onReconnect }: { portfolio: Portfolio; onBack: () => void; onDone: () => void; onReconnect: () => void }) {
  const { t } = useTranslation('meta');
  const q = useAdAccounts(portfolio.id);
  const connect = useConnectAdAccount();
  const [search, setSearch] = useState('');
  const [pasted, setPasted] = useState('');
  const list = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const all = q.data ?? [];
    if (!needle) return all;
    return all.filter((a) => (a.name ?? '').toLowerCase().includes(needle) || a.id.includes(needle) || (a.account_id ?? '').includes(needle));
  }, [q.data, search]);
  const pick = (a: Pick<AdAccountOption, 'id' | 'name'>) =>
    connect.mutate(
      { account_id: a.id, account_name: a.name ?? null, portfolio_id: portfolio.id, portfolio_name: portfolio.name ?? null },
      { onSuccess: onDone },
    );

  return (
    <div>
      <h3 className="meta-section-title">
        {t('wizard.pickAccount')} · {portfolio.name ?? portfolio.id}
      </h3>
      {q.isLoading && <LoadingState />}
      {q.error && <ErrorState error={q.error} onRetry={onReconnect} title={t('wizard.tryAgain')} />}
      {q.data && q.data.length === 0 && (
        <EmptyState title={t('wizard.noAccounts')} action={<Button onClick={onBack}>{t('wizard.back')}</Button>} />
      )}
      {q.data && q.data.length > 0 && (
        <>
          <TextField
            label={t('wizard.search')}
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            placeholder="act_…"
            aria-describedby={undefined}
          />
          {list.length === 0 && <p className="muted">{t('wizard.noMatches')}</p>}
          <div className="meta-grid">
            {list.map((a) => (
              <button type="button" key={a.id} className="meta-option" onClick={() => pick(a)} disabled={connect.isPending} data-testid="meta-ad-account">
                <span className="meta-option-title">{a.name ?? a.id}</span>
                <span className="meta-option-meta">
                  <span>{a.id}</span>
                  {a.currency && <Badge tone="info">{a.currency}</Badge>}
                  {a.status && <Badge tone={accountTone(a.status)}>{a.status}</Badge>}
                  <Badge>{a.ownership === 'client' ? t('wizard.client') : t('wizard.owned')}</Badge>
                </span>
              </button>
            ))}
          </div>
        </>
      )}
      <form
        className="meta-row"
        onSubmit={(e) => {
          e.preventDefault();
          pick({ id: pasted.trim(), name: null });
        }}
      >
        <TextField label={t('wizard.pasteLabel')} value={pasted} onChange={(e) => setPasted(e.target.value)} placeholder="act_1234567890" />
        <Button type="submit" icon={<Search size={16} aria-hidden />} loading={connect.isPending} disabled={pasted.trim().length === 0}>
          {t('wizard.pasteButton')}
        </Button>
      </form>
      <InlineError error={connect.error} />
      <div className="meta-actions">
        <Button variant="ghost" onClick={onBack}>
          {t('wizard.back')}
        </Button>
      </div>
    </div>
  );
}

function AssetsStep({
  portfolioId,
  current,
  onBack,
  onDone,
  onReconnect,
}: {
  portfolioId: string | null;
  current: TokenStatus | undefined;
  onBack: () => void;
  onDone: () => void;
  onReconnect: () => void;
}) {
  const { t } = useTranslation('meta');
  const wabas = useWhatsAppAccounts(portfolioId, portfolioId !== null);
  const pages = useLeadPages(true);
  const selectWa = useSelectWhatsApp();
  const selectPages = useSelectPages();
  const initialPhone = current?.whatsapp ? `${current.whatsapp.waba_id}:${current.whatsapp.phone_numbers[0]?.id ?? ''}` : '';
  const [phone, setPhone] = useState<string>(initialPhone);
  const [picked, setPicked] = useState<string[] | null>(null);
  const chosenPages = picked ?? (pages.data ?? []).filter((p) => p.selected).map((p) => p.id);
  const busy = selectWa.isPending || selectPages.isPending;

  const save = async () => {
    try {
      if (phone) {
        const [waba_id, phone_id] = phone.split(':');
        if (waba_id && phone_id) await selectWa.mutateAsync({ waba_id, phone_number_ids: [phone_id] });
      }
      if (picked !== null || chosenPages.length > 0) await selectPages.mutateAsync(chosenPages);
      onDone();
    } catch {
      // The error is shown below the form.
    }
  };

  return (
    <div>
      <h3 className="meta-section-title">{t('wizard.pickWhatsApp')}</h3>
      {wabas.isLoading && <LoadingState />}
      {wabas.error && <ErrorState error={wabas.error} onRetry={onReconnect} title={t('wizard.tryAgain')} />}
      {wabas.data && wabas.data.length === 0 && <p className="muted">{t('wizard.noWabas')}</p>}
      {wabas.data?.map((w) => (
        <fieldset key={w.id} className="meta-fieldset">
          <legend>{w.name ?? w.id}</legend>
          {w.phone_numbers.map((n) => {
            const value = `${w.id}:${n.id}`;
            return (
              <label key={n.id} className="meta-choice">
                <input type="radio" name="meta-phone" value={value} checked={phone === value} onChange={() => setPhone(value)} data-testid="meta-phone" />
                <span>
                  {n.display_phone_number ?? n.id} · {n.verified_name ?? ''}
                </span>
                {n.quality_rating && <Badge tone={n.quality_rating === 'GREEN' ? 'success' : 'warning'}>{n.quality_rating}</Badge>}
              </label>
            );
          })}
        </fieldset>
      ))}
      <h3 className="meta-section-title">{t('wizard.pickPages')}</h3>
      {pages.isLoading && <LoadingState />}
      {pages.error && <ErrorState error={pages.error} onRetry={onReconnect} title={t('wizard.tryAgain')} />}
      {pages.data && pages.data.length === 0 && <p className="muted">{t('wizard.noPages')}</p>}
      {pages.data?.map((p) => (
        <label key={p.id} className="meta-choice">
          <input
            type="checkbox"
            checked={chosenPages.includes(p.id)}
            disabled={!p.can_subscribe}
            onChange={(e) => setPicked(e.target.checked ? [...chosenPages, p.id] : chosenPages.filter((x) => x !== p.id))}
            data-testid="meta-page"
          />
          <span>
            {p.name ?? p.id} {p.category && <span className="muted">· {p.category}</span>}
          </span>
        </label>
      ))}
      <InlineError error={selectWa.error ?? selectPages.error} />
      <div className="meta-actions">
        <Button variant="ghost" onClick={onBack}>
          {t('wizard.back')}
        </Button>
        <Button onClick={onDone}>{t('wizard.skip')}</Button>
        <Button variant="primary" loading={busy} onClick={() => void save()} data-testid="meta-save-assets">
          {t('wizard.saveAssets')}
        </Button>
      </div>
    </div>
  );
}
