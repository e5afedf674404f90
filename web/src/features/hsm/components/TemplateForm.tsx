import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Plus, Send, Trash2 } from 'lucide-react';
import { ApiError } from '../../../api/client';
import { Button, Card, InlineError, errorMessage, useToast } from '../../../shared/ui';
import { useCreateTemplate } from '../api/hsm';
import { CATEGORIES } from '../api/types';
import { draftToInput, emptyDraft, orderedKeys, partsOfDraft, validateDraft, type ButtonDraft, type Problem, type TemplateDraft } from '../lib/template';
import { WhatsAppPreview } from './WhatsAppPreview';

/** Literal placeholders for messages that show them (i18next would read `{{1}}` as its own). */
export const PH = { p1: '{{1}}', p2: '{{2}}', pname: '{{first_name}}' };

const BUTTON_TYPES: ButtonDraft['type'][] = ['QUICK_REPLY', 'URL', 'PHONE_NUMBER', 'COPY_CODE'];

/** The server names the field in `details.field` (name, language, body, header, footer, buttons[i], components). */
export function serverField(err: unknown): string | null {
  if (!(err instanceof ApiError) || typeof err.details !== 'object' || err.details === null) return null;
  const f = (err.details as { field?: unknown }).field;
  return typeof f === 'string' ? f : null;
}

function Counter({ text, max }: { text: string; max: number }) {
  const n = [...text].length;
  return <span className={`hsm-counter${n > max ? ' hsm-counter-over' : ''}`}>{n}/{max}</span>;
}

/** Create a template with a live WhatsApp preview; checks mirror the server's, and server errors land on their field. */
export function TemplateForm({ onDone, onCancel }: { onDone: () => void; onCancel: () => void }) {
  const { t } = useTranslation('hsm');
  const { t: tc } = useTranslation();
  const toast = useToast();
  const create = useCreateTemplate();
  const [d, setD] = useState<TemplateDraft>(emptyDraft);
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const [submitted, setSubmitted] = useState(false);
  const [serverErr, setServerErr] = useState<{ field: string | null; err: unknown } | null>(null);

  const set = <K extends keyof TemplateDraft>(k: K, v: TemplateDraft[K], field: string = k) => {
    setD((prev) => ({ ...prev, [k]: v }));
    setTouched((prev) => new Set(prev).add(field));
    if (serverErr?.field === field) setServerErr(null);
  };
  const problems = validateDraft(d);
  const visible = (field: string) => submitted || touched.has(field.replace(/\[\d+\]$/, ''));
  const problemText = (p: Problem) => t(`hsm:form.problem.${p.code}`, { ...PH, ...p.params, missing: p.params?.missing !== undefined ? `{{${p.params.missing}}}` : '' });
  const errorFor = (field: string): string | undefined => {
    if (serverErr?.field === field) {
      const code = serverErr.err instanceof ApiError ? serverErr.err.code : '';
      const known = t(`hsm:form.problem.${code}`, { ...PH, defaultValue: '' });
      return known && !/text_too_long|placeholder_sequence/.test(code) ? known : errorMessage(tc, serverErr.err);
    }
    const p = problems.find((x) => x.field === field);
    return p && visible(field) ? problemText(p) : undefined;
  };

  const bodyKeys = orderedKeys(d.body);
  const headerKeys = orderedKeys(d.headerText);
  const named = d.parameterFormat === 'NAMED';

  const addVariable = () => {
    const next = named ? `{{var_${bodyKeys.length + 1}}}` : `{{${bodyKeys.filter((k) => /^\d+$/.test(k)).length + 1}}}`;
    set('body', `${d.body}${d.body && !d.body.endsWith(' ') ? ' ' : ''}${next} `);
  };
  const setButton = (i: number, patch: Partial<ButtonDraft>) =>
    set(
      'buttons',
      d.buttons.map((b, j) => (j === i ? { ...b, ...patch } : b)),
    );

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    setServerErr(null);
    if (problems.length > 0) return;
    create.mutate(draftToInput(d), {
      onSuccess: (tpl) => {
        toast.success(t('hsm:form.created', { name: tpl.name, status: t(`hsm:status.${tpl.status}`, { defaultValue: tpl.status }) }));
        onDone();
      },
      onError: (err) => {
        let field = serverField(err);
        if (err instanceof ApiError && err.code === 'template_exists') field = 'name';
        if (field === 'components') field = 'body';
        setServerErr({ field, err });
      },
    });
  };

  const fieldProps = (field: string) => {
    const error = errorFor(field);
    return { error, invalid: error ? true : undefined };
  };

  const area = (field: 'headerText' | 'body' | 'footer', label: string, hint: string, max: number, rows: number, key: string) => {
    const { error } = fieldProps(key);
    return (
      <div className={`field${error ? ' field-invalid' : ''}`}>
        <label className="field-label hsm-label-row" htmlFor={`tpl-${key}`}>
          <span>{label}</span> <Counter text={d[field]} max={max} />
        </label>
        {rows === 1 ? (
          <input id={`tpl-${key}`} className="input" value={d[field]} aria-invalid={error ? true : undefined} onChange={(e) => set(field, e.target.value, key)} />
        ) : (
          <textarea id={`tpl-${key}`} className="input hsm-textarea" rows={rows} value={d[field]} aria-invalid={error ? true : undefined} onChange={(e) => set(field, e.target.value, key)} />
        )}
        {error ? (
          <p className="field-error" role="alert" data-field={key}>
            {error}
          </p>
        ) : (
          <p className="field-hint">{hint}</p>
        )}
      </div>
    );
  };

  const nameErr = errorFor('name');
  const langErr = errorFor('language');

  return (
    <Card title={t('hsm:form.title')} className="hsm-form-card">
      <p className="muted small">{t('hsm:form.description')}</p>
      <form className="hsm-form-grid" onSubmit={submit} noValidate data-testid="template-form">
        <div className="form">
          <div className="form-grid hsm-form-row">
            <div className={`field${nameErr ? ' field-invalid' : ''}`}>
              <label className="field-label" htmlFor="tpl-name">{t('hsm:form.name')}</label>
              <input id="tpl-name" className="input mono" value={d.name} aria-invalid={nameErr ? true : undefined} onChange={(e) => set('name', e.target.value)} />
              {nameErr ? <p className="field-error" role="alert" data-field="name">{nameErr}</p> : <p className="field-hint">{t('hsm:form.nameHint')}</p>}
            </div>
            <div className={`field${langErr ? ' field-invalid' : ''}`}>
              <label className="field-label" htmlFor="tpl-language">{t('hsm:form.language')}</label>
              <input id="tpl-language" className="input mono" value={d.language} list="tpl-languages" aria-invalid={langErr ? true : undefined} onChange={(e) => set('language', e.target.value)} />
              <datalist id="tpl-languages">
                {['es', 'es_AR', 'es_MX', 'es_ES', 'en', 'en_US', 'pt_BR'].map((l) => (
                  <option key={l} value={l} />
                ))}
              </datalist>
              {langErr ? <p className="field-error" role="alert" data-field="language">{langErr}</p> : <p className="field-hint">{t('hsm:form.languageHint')}</p>}
            </div>
            <div className="field">
              <label className="field-label" htmlFor="tpl-category">{t('hsm:form.category')}</label>
              <select id="tpl-category" className="input select" value={d.category} onChange={(e) => set('category', e.target.value)}>
                {CATEGORIES.map((c) => (
                  <option key={c} value={c}>{t(`hsm:category.${c}`)}</option>
                ))}
              </select>
            </div>
            <div className="field">
              <label className="field-label" htmlFor="tpl-format">{t('hsm:form.parameterFormat')}</label>
              <select id="tpl-format" className="input select" value={d.parameterFormat} onChange={(e) => set('parameterFormat', e.target.value as TemplateDraft['parameterFormat'])}>
                <option value="POSITIONAL">{t('hsm:form.positional', PH)}</option>
                <option value="NAMED">{t('hsm:form.named', PH)}</option>
              </select>
            </div>
          </div>
          {area('headerText', t('hsm:form.header'), t('hsm:form.headerHint'), 60, 1, 'header')}
          {area('body', t('hsm:form.body'), t('hsm:form.bodyHint', PH), 1024, 5, 'body')}
          <div>
            <Button size="sm" variant="ghost" icon={<Plus size={14} aria-hidden />} onClick={addVariable}>
              {t('hsm:form.addVariable')}
            </Button>
          </div>
          {(bodyKeys.length > 0 || headerKeys.length > 0) && (
            <fieldset className="hsm-fieldset">
              <legend>{t('hsm:form.examples')}</legend>
              <p className="muted small">{t('hsm:form.examplesHint')}</p>
              <div className="form-grid hsm-form-row">
                {headerKeys.map((k) => (
                  <label key={`h-${k}`} className="field">
                    <span className="field-label">{t('hsm:form.headerExampleFor', { key: `{{${k}}}` })}</span>
                    <input className="input" value={d.headerExamples[k] ?? ''} onChange={(e) => set('headerExamples', { ...d.headerExamples, [k]: e.target.value }, 'header')} />
                  </label>
                ))}
                {bodyKeys.map((k) => (
                  <label key={`b-${k}`} className="field">
                    <span className="field-label">{t('hsm:form.exampleFor', { key: `{{${k}}}` })}</span>
                    <input className="input" value={d.bodyExamples[k] ?? ''} onChange={(e) => set('bodyExamples', { ...d.bodyExamples, [k]: e.target.value }, 'body')} />
                  </label>
                ))}
              </div>
            </fieldset>
          )}
          {area('footer', t('hsm:form.footer'), t('hsm:form.footerHint'), 60, 1, 'footer')}
          <fieldset className="hsm-fieldset">
            <legend>{t('hsm:form.buttons')}</legend>
            {d.buttons.map((b, i) => {
              const err = errorFor(`buttons[${i}]`);
              return (
                <div key={i} className="hsm-button-row">
                  <select className="input select input-sm" aria-label={t('hsm:form.buttonType')} value={b.type} onChange={(e) => setButton(i, { type: e.target.value as ButtonDraft['type'] })}>
                    {BUTTON_TYPES.map((bt) => (
                      <option key={bt} value={bt}>{t(`hsm:form.buttonTypes.${bt}`)}</option>
                    ))}
                  </select>
                  <input className="input input-sm" aria-label={t('hsm:form.buttonText')} placeholder={t('hsm:form.buttonText')} value={b.text} onChange={(e) => setButton(i, { text: e.target.value })} />
                  {b.type === 'URL' && <input className="input input-sm" aria-label={t('hsm:form.buttonUrl')} placeholder="https://…" value={b.url} onChange={(e) => setButton(i, { url: e.target.value })} />}
                  {b.type === 'PHONE_NUMBER' && <input className="input input-sm" aria-label={t('hsm:form.buttonPhone')} placeholder="+54…" value={b.phone} onChange={(e) => setButton(i, { phone: e.target.value })} />}
                  {((b.type === 'URL' && b.url.includes('{{')) || b.type === 'COPY_CODE') && (
                    <input className="input input-sm" aria-label={t('hsm:form.buttonExample')} placeholder={t('hsm:form.buttonExample')} value={b.example} onChange={(e) => setButton(i, { example: e.target.value })} />
                  )}
                  <button type="button" className="icon-btn" aria-label={t('hsm:form.removeButton')} onClick={() => set('buttons', d.buttons.filter((_, j) => j !== i))}>
                    <Trash2 size={16} aria-hidden />
                  </button>
                  {err && <p className="field-error hsm-button-err" role="alert" data-field={`buttons[${i}]`}>{err}</p>}
                </div>
              );
            })}
            {errorFor('buttons') && <p className="field-error" role="alert">{errorFor('buttons')}</p>}
            {d.buttons.length < 10 && (
              <Button size="sm" variant="ghost" icon={<Plus size={14} aria-hidden />} onClick={() => set('buttons', [...d.buttons, { type: 'QUICK_REPLY', text: '', url: '', phone: '', example: '' }])}>
                {t('hsm:form.addButton')}
              </Button>
            )}
          </fieldset>
          {submitted && problems.length > 0 && <p className="field-error" role="alert">{t('hsm:form.fixErrors')}</p>}
          {serverErr && !serverErr.field && <InlineError error={serverErr.err} />}
          <div className="hsm-form-actions">
            <Button variant="ghost" onClick={onCancel}>{t('hsm:form.cancel')}</Button>
            <Button type="submit" variant="primary" icon={<Send size={16} aria-hidden />} loading={create.isPending} data-testid="template-submit">
              {t('hsm:form.submit')}
            </Button>
          </div>
        </div>
        <aside className="hsm-preview-col">
          <h3 className="section-title">{t('hsm:form.preview')}</h3>
          <WhatsAppPreview parts={partsOfDraft(d)} />
        </aside>
      </form>
    </Card>
  );
}
