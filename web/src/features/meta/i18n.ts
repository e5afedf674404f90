import i18n from '../../i18n';
import en from './i18n/en.json';
import es from './i18n/es.json';

/** Registers the `meta` namespace (Spanish first, English complete). */
export function registerMetaI18n(): void {
  if (!i18n.hasResourceBundle('es', 'meta')) i18n.addResourceBundle('es', 'meta', es, true, false);
  if (!i18n.hasResourceBundle('en', 'meta')) i18n.addResourceBundle('en', 'meta', en, true, false);
}

registerMetaI18n();
