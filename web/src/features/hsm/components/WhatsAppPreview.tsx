import { Fragment, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Copy, ExternalLink, Phone, Reply } from 'lucide-react';
import type { PreviewParts } from '../lib/template';

/** WhatsApp's light formatting: *bold*, _italic_, ~strike~; `{{x}}` left visible is highlighted. */
export function formatWhatsApp(text: string): ReactNode[] {
  const out: ReactNode[] = [];
  const re = /(\*[^*\n]+\*|_[^_\n]+_|~[^~\n]+~|\{\{[^}]*\}\})/g;
  let last = 0;
  let i = 0;
  for (const m of text.matchAll(re)) {
    const idx = m.index ?? 0;
    if (idx > last) out.push(<Fragment key={i++}>{text.slice(last, idx)}</Fragment>);
    const tok = m[0];
    const inner = tok.slice(1, -1);
    if (tok.startsWith('{{')) out.push(<mark key={i++} className="wa-var">{tok}</mark>);
    else if (tok.startsWith('*')) out.push(<strong key={i++}>{inner}</strong>);
    else if (tok.startsWith('_')) out.push(<em key={i++}>{inner}</em>);
    else out.push(<s key={i++}>{inner}</s>);
    last = idx + tok.length;
  }
  if (last < text.length) out.push(<Fragment key={i++}>{text.slice(last)}</Fragment>);
  return out;
}

const BUTTON_ICON: Record<string, ReactNode> = {
  URL: <ExternalLink size={14} aria-hidden />,
  PHONE_NUMBER: <Phone size={14} aria-hidden />,
  COPY_CODE: <Copy size={14} aria-hidden />,
  QUICK_REPLY: <Reply size={14} aria-hidden />,
};

/** A WhatsApp-style chat bubble: header, body, footer and buttons. */
export function WhatsAppPreview({ parts, time }: { parts: PreviewParts; time?: string }) {
  const { t } = useTranslation('hsm');
  return (
    <div className="wa-screen" role="figure" aria-label={t('hsm:preview.label')} data-testid="wa-preview">
      <div className="wa-bubble">
        {parts.header && <p className="wa-header">{formatWhatsApp(parts.header)}</p>}
        <p className="wa-body">{parts.body ? formatWhatsApp(parts.body) : <span className="wa-placeholder">…</span>}</p>
        {parts.footer && <p className="wa-footer">{parts.footer}</p>}
        <span className="wa-time">{time ?? t('hsm:preview.now')}</span>
      </div>
      {parts.buttons.length > 0 && (
        <div className="wa-buttons">
          {parts.buttons.map((b, i) => (
            <span key={i} className="wa-button">
              {BUTTON_ICON[b.type]} {b.text || '…'}
            </span>
          ))}
        </div>
      )}
    </div>
  );
}
