import i18n from '../../i18n';
import en from './i18n/en.json';
import es from './i18n/es.json';

/** Registers the `leads` namespace (Spanish first, English complete). */
export function registerLeadsI18n(): void {
  if (!i18n.hasResourceBundle('es', 'leads')) i18n.addResourceBundle('es', 'leads', es, true, false);
  if (!i18n.hasResourceBundle('en', 'leads')) i18n.addResourceBundle('en', 'leads', en, true, false);
}

registerLeadsI18n();
