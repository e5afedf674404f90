import { useTranslation } from 'react-i18next';
import { useSearchParams } from 'react-router';
import { AlertTriangle, FileText, ListChecks, ScrollText } from 'lucide-react';
import { Button, PageHeader, errorMessage, useToast } from '../../../shared/ui';
import { useHsmSettings, useResumeAutomation } from '../api/hsm';
import { LogsTab } from '../components/LogsTab';
import { RulesTab } from '../components/RulesTab';
import { TemplatesTab } from '../components/TemplatesTab';
import '../../leads/leads.css';
import '../hsm.css';

const TABS = [
  { id: 'templates', icon: FileText },
  { id: 'rules', icon: ListChecks },
  { id: 'logs', icon: ScrollText },
] as const;
type TabId = (typeof TABS)[number]['id'];

function PausedBanner() {
  const { t } = useTranslation('hsm');
  const { t: tc } = useTranslation();
  const toast = useToast();
  const settings = useHsmSettings();
  const resume = useResumeAutomation();
  const s = settings.data;
  if (!s?.paused_reason) return null;
  return (
    <div className="hsm-paused" role="alert" data-testid="hsm-paused">
      <AlertTriangle size={18} aria-hidden />
      <span>{t('hsm:paused', { reason: t(`hsm:reason.${s.paused_reason}`, { defaultValue: s.paused_reason }) })}</span>
      <Button
        size="sm"
        loading={resume.isPending}
        onClick={() =>
          resume.mutate(
            { opt_out_keywords: s.opt_out_keywords, opt_in_keywords: s.opt_in_keywords, messages_per_second: s.messages_per_second },
            { onSuccess: () => toast.success(t('hsm:resumed')), onError: (err) => toast.error(errorMessage(tc, err)) },
          )
        }
      >
        {t('hsm:resume')}
      </Button>
    </div>
  );
}

export default function HsmPage() {
  const { t } = useTranslation('hsm');
  const [params, setParams] = useSearchParams();
  const raw = params.get('tab');
  const tab: TabId = raw === 'rules' || raw === 'logs' ? raw : 'templates';
  return (
    <div className="page hsm-page">
      <PageHeader title={t('hsm:title')} description={t('hsm:subtitle')} />
      <PausedBanner />
      <div className="hsm-tabs" role="tablist" aria-label={t('hsm:title')}>
        {TABS.map(({ id, icon: Icon }) => (
          <button
            key={id}
            type="button"
            role="tab"
            id={`hsm-tab-${id}`}
            aria-selected={tab === id}
            aria-controls={`hsm-panel-${id}`}
            className={`hsm-tab-btn${tab === id ? ' hsm-tab-active' : ''}`}
            onClick={() => setParams(id === 'templates' ? {} : { tab: id }, { replace: true })}
          >
            <Icon size={16} aria-hidden /> {t(`hsm:tabs.${id}`)}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`hsm-panel-${tab}`} aria-labelledby={`hsm-tab-${tab}`}>
        {tab === 'templates' && <TemplatesTab />}
        {tab === 'rules' && <RulesTab />}
        {tab === 'logs' && <LogsTab />}
      </div>
    </div>
  );
}
