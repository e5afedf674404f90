import i18n from '../../i18n';
import en from './i18n/en.json';
import es from './i18n/es.json';

/** Registers the `pipeline` namespace (Spanish first, English complete). */
export function registerPipelineI18n(): void {
  if (!i18n.hasResourceBundle('es', 'pipeline')) i18n.addResourceBundle('es', 'pipeline', es, true, false);
  if (!i18n.hasResourceBundle('en', 'pipeline')) i18n.addResourceBundle('en', 'pipeline', en, true, false);
}

registerPipelineI18n();
