import { useTranslation } from 'react-i18next';
import { MessageCircle } from 'lucide-react';
import { Badge, Card } from '../../../shared/ui';
import { formatDateTime } from '../../../shared/format';
import type { Lead } from '../api/types';

/**
 * The region of the lead page where the WhatsApp conversation goes
 * (`LeadMessagingPanel` from the hsm feature is mounted here by the app once
 * it exists). Until then it shows the 24-hour customer-service window state.
 */
export function LeadMessagingSlot({ lead, timeZone }: { lead: Lead; timeZone: string }) {
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
      <section data-slot="lead-messaging" aria-label={t('leads:messaging.title')}>
        <p>
          {t('leads:detail.window')}:{' '}
          <Badge tone={open ? 'success' : 'neutral'}>
            {open && until ? t('leads:detail.windowOpen', { when: formatDateTime(until, i18n.language, timeZone) }) : t('leads:detail.windowClosed')}
          </Badge>
        </p>
        <p className="muted small">{t('leads:messaging.unavailable')}</p>
      </section>
    </Card>
  );
}
