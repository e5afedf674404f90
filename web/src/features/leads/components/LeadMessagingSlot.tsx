import { Suspense } from 'react';
import { useTranslation } from 'react-i18next';
import { MessageCircle } from 'lucide-react';
import { Badge, Card } from '../../../shared/ui';
import { formatDateTime } from '../../../shared/format';
import { LeadMessagingPanel } from '../../hsm';
import type { Lead } from '../api/types';

/** The 24-hour window state, shown while the WhatsApp panel loads. */
function WindowOnly({ lead, timeZone }: { lead: Lead; timeZone: string }) {
  const { t, i18n } = useTranslation('leads');
  const until = lead.whatsapp_window_until;
  const open = !!until && new Date(until).getTime() > Date.now();
  return (
    <Card
      className="lead-messaging"
      title={
        <span className="title-with-icon">
          <MessageCircle size={18} aria-hidden /> {t('leads:messaging.title')}
        </span>
      }
    >
      <section aria-label={t('leads:messaging.title')}>
        <p>
          {t('leads:detail.window')}:{' '}
          <Badge tone={open ? 'success' : 'neutral'}>
            {open && until ? t('leads:detail.windowOpen', { when: formatDateTime(until, i18n.language, timeZone) }) : t('leads:detail.windowClosed')}
          </Badge>
        </p>
      </section>
    </Card>
  );
}

/**
 * The region of the lead page where the WhatsApp conversation goes: the hsm
 * feature's `LeadMessagingPanel` (messages, window, consent, send template).
 */
export function LeadMessagingSlot({ lead, timeZone }: { lead: Lead; timeZone: string }) {
  return (
    <Suspense fallback={<WindowOnly lead={lead} timeZone={timeZone} />}>
      <LeadMessagingPanel leadId={lead.id} leadName={lead.name} timeZone={timeZone} />
    </Suspense>
  );
}
