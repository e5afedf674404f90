import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Plus, Trash2 } from 'lucide-react';
import { Button, Card, InlineError, errorMessage, useToast } from '../../../shared/ui';
import { LEAD_SOURCES, LEAD_STATUSES } from '../../leads/api/types';
import { useSaveRule, useTemplates } from '../api/hsm';
import { BINDING_SOURCES, CONDITION_FIELDS, CONDITION_OPS, DATE_FIELDS, TRIGGER_TYPES, type Binding, type Rule, type TriggerType } from '../api/types';
import { defaultBinding, draftToSpec, emptyRule, previewValues, ruleProblems, ruleToDraft, type RuleDraft } from '../lib/rules';
import { renderWith } from '../lib/template';
import { TemplateStatusBadge } from './Badges';
import { WhatsAppPreview } from './WhatsAppPreview';

const CHANNELS = ['lead_form', 'click_to_whatsapp', 'web', 'manual', 'import', 'api'] as const;

/** The known values, plus the current one when it is not among them (e.g. a starter rule's `meta_ads`). */
function withCurrent(known: readonly string[], current: string): string[] {
  return current && !known.includes(current) ? [...known, current] : [...known];
}

/** Create or edit a rule: trigger, conditions, template and variables (with a preview), timing guards. */
export function RuleEditor({ rule, onSaved, onCancel }: { rule: Rule | null; onSaved: (rule: Rule, dryRun: boolean) => void; onCancel: () => void }) {
  const { t } = useTranslation('hsm');
  const { t: tc } = useTranslation();
  const toast = useToast();
  const save = useSaveRule();
  const templates = useTemplates({});
  const [d, setD] = useState<RuleDraft>(() => (rule ? ruleToDraft(rule) : emptyRule()));
  const [submitted, setSubmitted] = useState(false);
  const set = <K extends keyof RuleDraft>(k: K, v: RuleDraft[K]) => setD((p) => ({ ...p, [k]: v }));

  const usable = (templates.data ?? []).filter((x) => x.status !== 'DELETED');
  const tpl = usable.find((x) => x.name === d.templateName && x.language === d.language) ?? null;
  const variables = tpl?.variables ?? null;
  const problems = ruleProblems(d, variables);
  const problem = (field: string) => {
    const p = submitted ? problems.find((x) => x.field === field) : undefined;
    return p ? t(`hsm:editor.${p.key}`, p.params ?? {}) : undefined;
  };

  const pickTemplate = (value: string) => {
    const [name = '', language = ''] = value.split('|');
    const next = usable.find((x) => x.name === name && x.language === language);
    const bindings: Record<string, Binding> = {};
    (next?.variables ?? []).forEach((k, i) => {
      bindings[k] = d.bindings[k] ?? defaultBinding(k, i);
    });
    setD((p) => ({ ...p, templateName: name, language, bindings }));
  };
  const setBinding = (k: string, patch: Partial<Binding>) => setD((p) => ({ ...p, bindings: { ...p.bindings, [k]: { ...(p.bindings[k] ?? { source: 'fixed' }), ...patch } } }));
  const setCond = (i: number, patch: Partial<RuleDraft['conditions'][number]>) => set('conditions', d.conditions.map((c, j) => (j === i ? { ...c, ...patch } : c)));

  const submit = (dryRun: boolean) => (e?: FormEvent) => {
    e?.preventDefault();
    setSubmitted(true);
    if (problems.length > 0) return;
    save.mutate(
      { id: rule?.id ?? null, spec: draftToSpec(d, variables) },
      {
        onSuccess: (saved) => {
          toast.success(t('hsm:editor.saved'));
          onSaved(saved, dryRun);
        },
        onError: (err) => toast.error(errorMessage(tc, err)),
      },
    );
  };

  const num = (k: 'hours' | 'days' | 'offsetHours' | 'delayMinutes' | 'capMax' | 'capHours', label: string, min?: number) => (
    <label className="field">
      <span className="field-label">{label}</span>
      <input className="input" type="number" min={min} value={d[k]} onChange={(e) => set(k, Number(e.target.value))} />
    </label>
  );
  const text = (k: 'campaignId' | 'to' | 'addTag', label: string, list?: string) => (
    <label className="field">
      <span className="field-label">{label}</span>
      <input className="input" value={d[k]} list={list} onChange={(e) => set(k, e.target.value)} />
    </label>
  );

  const preview = tpl ? renderWith(tpl.components, previewValues(d.bindings)) : null;

  return (
    <Card title={rule ? t('hsm:editor.titleEdit') : t('hsm:editor.titleNew')} className="hsm-form-card">
      <form className="hsm-form-grid" onSubmit={submit(false)} noValidate data-testid="rule-editor">
        <div className="form">
          <label className={`field${problem('name') ? ' field-invalid' : ''}`}>
            <span className="field-label">{t('hsm:editor.name')}</span>
            <input className="input" value={d.name} onChange={(e) => set('name', e.target.value)} aria-invalid={problem('name') ? true : undefined} />
            {problem('name') && <span className="field-error" role="alert">{problem('name')}</span>}
          </label>

          <fieldset className="hsm-fieldset">
            <legend>{t('hsm:editor.trigger')}</legend>
            <div className="form-grid hsm-form-row">
              <label className="field">
                <span className="field-label">{t('hsm:editor.triggerType')}</span>
                <select className="input select" value={d.triggerType} onChange={(e) => set('triggerType', e.target.value as TriggerType)} data-testid="rule-trigger">
                  {TRIGGER_TYPES.map((x) => (
                    <option key={x} value={x}>{t(`hsm:editor.triggers.${x}`)}</option>
                  ))}
                </select>
              </label>
              {d.triggerType === 'lead_created' && (
                <>
                  <label className="field">
                    <span className="field-label">{t('hsm:editor.source')}</span>
                    <select className="input select" value={d.source} onChange={(e) => set('source', e.target.value)} data-testid="rule-source">
                      <option value="">{t('hsm:editor.any')}</option>
                      {withCurrent(LEAD_SOURCES, d.source).map((x) => (
                        <option key={x} value={x}>{tc(`leads:source.${x}`, { defaultValue: x })}</option>
                      ))}
                    </select>
                  </label>
                  <label className="field">
                    <span className="field-label">{t('hsm:editor.channel')}</span>
                    <select className="input select" value={d.channel} onChange={(e) => set('channel', e.target.value)} data-testid="rule-channel">
                      <option value="">{t('hsm:editor.any')}</option>
                      {withCurrent(CHANNELS, d.channel).map((x) => (
                        <option key={x} value={x}>{tc(`leads:channel.${x}`, { defaultValue: x })}</option>
                      ))}
                    </select>
                  </label>
                  {text('campaignId', t('hsm:editor.campaign'))}
                </>
              )}
              {d.triggerType === 'no_reply' && num('hours', t('hsm:editor.hours'), 1)}
              {d.triggerType === 'inactive' && num('days', t('hsm:editor.days'), 1)}
              {d.triggerType === 'status_changed' && (
                <label className="field">
                  <span className="field-label">{t('hsm:editor.toStatus')}</span>
                  <select className="input select" value={d.to} onChange={(e) => set('to', e.target.value)}>
                    <option value="">{t('hsm:editor.any')}</option>
                    {LEAD_STATUSES.map((s) => (
                      <option key={s} value={s}>{tc(`leads:status.${s}`, { defaultValue: s })}</option>
                    ))}
                  </select>
                </label>
              )}
              {d.triggerType === 'stage_changed' && text('to', t('hsm:editor.toStage'))}
              {d.triggerType === 'date_relative' && (
                <>
                  <label className="field">
                    <span className="field-label">{t('hsm:editor.dateField')}</span>
                    <select className="input select" value={d.dateField} onChange={(e) => set('dateField', e.target.value)}>
                      {DATE_FIELDS.map((f) => (
                        <option key={f} value={f}>{t(`hsm:editor.dateFields.${f}`)}</option>
                      ))}
                    </select>
                  </label>
                  {num('offsetHours', t('hsm:editor.offsetHours'))}
                </>
              )}
            </div>
          </fieldset>

          <fieldset className="hsm-fieldset">
            <legend>{t('hsm:editor.conditions')}</legend>
            <p className="muted small">{t('hsm:editor.conditionsHint')}</p>
            {d.conditions.map((c, i) => (
              <div key={i} className="hsm-cond-row">
                <select className="input select input-sm" aria-label={t('hsm:editor.field')} value={c.field} onChange={(e) => setCond(i, { field: e.target.value })}>
                  {CONDITION_FIELDS.map((f) => (
                    <option key={f} value={f}>{t(`hsm:editor.fields.${f}`)}</option>
                  ))}
                </select>
                <select className="input select input-sm" aria-label={t('hsm:editor.op')} value={c.op} onChange={(e) => setCond(i, { op: e.target.value as typeof c.op })}>
                  {CONDITION_OPS.map((o) => (
                    <option key={o} value={o}>{t(`hsm:editor.ops.${o}`)}</option>
                  ))}
                </select>
                {c.op !== 'exists' && c.op !== 'not_exists' && (
                  <input className="input input-sm" aria-label={t('hsm:editor.value')} placeholder={t('hsm:editor.value')} value={c.value} aria-invalid={problem(`cond.${i}`) ? true : undefined} onChange={(e) => setCond(i, { value: e.target.value })} />
                )}
                <button type="button" className="icon-btn" aria-label={t('hsm:editor.removeCondition')} onClick={() => set('conditions', d.conditions.filter((_, j) => j !== i))}>
                  <Trash2 size={16} aria-hidden />
                </button>
              </div>
            ))}
            <Button size="sm" variant="ghost" icon={<Plus size={14} aria-hidden />} onClick={() => set('conditions', [...d.conditions, { field: 'lead.source', op: 'eq', value: '' }])}>
              {t('hsm:editor.addCondition')}
            </Button>
          </fieldset>

          <fieldset className="hsm-fieldset">
            <legend>{t('hsm:editor.action')}</legend>
            <label className={`field${problem('template') ? ' field-invalid' : ''}`}>
              <span className="field-label">{t('hsm:editor.template')}</span>
              <select className="input select" value={d.templateName ? `${d.templateName}|${d.language}` : ''} onChange={(e) => pickTemplate(e.target.value)} data-testid="rule-template">
                <option value="">{t('hsm:editor.pickTemplate')}</option>
                {usable.map((x) => (
                  <option key={x.id} value={`${x.name}|${x.language}`}>
                    {x.name} · {x.language} · {t(`hsm:status.${x.status}`, { defaultValue: x.status })}
                  </option>
                ))}
                {d.templateName && !tpl && <option value={`${d.templateName}|${d.language}`}>{d.templateName} · {d.language}</option>}
              </select>
              {problem('template') && <span className="field-error" role="alert">{problem('template')}</span>}
            </label>
            {tpl && tpl.status !== 'APPROVED' && (
              <p className="hsm-warning small">
                <TemplateStatusBadge status={tpl.status} /> {t('hsm:editor.notApproved')}
              </p>
            )}
            {variables && variables.length > 0 && (
              <>
                <h4 className="hsm-subtitle">{t('hsm:editor.variables')}</h4>
                <p className="muted small">{t('hsm:editor.variablesHint')}</p>
                {variables.map((k) => {
                  const b = d.bindings[k] ?? { source: 'fixed' };
                  return (
                    <div key={k} className="hsm-binding-row" data-testid="rule-binding">
                      <span className="mono hsm-var-key">{`{{${k}}}`}</span>
                      <select className="input select input-sm" aria-label={t('hsm:editor.variable', { key: k })} value={b.source} onChange={(e) => setBinding(k, { source: e.target.value })}>
                        {BINDING_SOURCES.map((s) => (
                          <option key={s} value={s}>{t(`hsm:editor.sources.${s}`)}</option>
                        ))}
                      </select>
                      {b.source === 'fixed' ? (
                        <input className="input input-sm" aria-label={`${t('hsm:editor.fixedValue')} ${k}`} placeholder={t('hsm:editor.fixedValue')} value={b.value ?? ''} aria-invalid={problem(`var.${k}`) ? true : undefined} onChange={(e) => setBinding(k, { value: e.target.value })} />
                      ) : (
                        <input className="input input-sm" aria-label={`${t('hsm:editor.fallback')} ${k}`} placeholder={t('hsm:editor.fallback')} value={b.fallback ?? ''} onChange={(e) => setBinding(k, { fallback: e.target.value })} />
                      )}
                      {problem(`var.${k}`) && <span className="field-error" role="alert">{problem(`var.${k}`)}</span>}
                    </div>
                  );
                })}
              </>
            )}
            <div className="form-grid hsm-form-row">
              {text('addTag', t('hsm:editor.addTag'))}
              <label className="field">
                <span className="field-label">{t('hsm:editor.setStatus')}</span>
                <select className="input select" value={d.setStatus} onChange={(e) => set('setStatus', e.target.value)}>
                  <option value="">{t('hsm:editor.noStatusChange')}</option>
                  {LEAD_STATUSES.map((s) => (
                    <option key={s} value={s}>{tc(`leads:status.${s}`, { defaultValue: s })}</option>
                  ))}
                </select>
              </label>
            </div>
          </fieldset>

          <fieldset className="hsm-fieldset">
            <legend>{t('hsm:editor.timing')}</legend>
            <div className="form-grid hsm-form-row">{num('delayMinutes', t('hsm:editor.delay'), 0)}</div>
            <label className="hsm-check">
              <input type="checkbox" checked={d.quietOn} onChange={(e) => set('quietOn', e.target.checked)} /> {t('hsm:editor.quietHours')}
            </label>
            {d.quietOn && (
              <div className="form-grid hsm-form-row">
                <label className="field">
                  <span className="field-label">{t('hsm:editor.quietFrom')}</span>
                  <input className="input" type="time" value={d.quietStart} onChange={(e) => set('quietStart', e.target.value)} />
                </label>
                <label className="field">
                  <span className="field-label">{t('hsm:editor.quietTo')}</span>
                  <input className="input" type="time" value={d.quietEnd} onChange={(e) => set('quietEnd', e.target.value)} />
                </label>
                <label className="field">
                  <span className="field-label">{t('hsm:editor.quietZone')}</span>
                  <select className="input select" value={d.quietZone} onChange={(e) => set('quietZone', e.target.value)}>
                    <option value="lead">{t('hsm:editor.zoneLead')}</option>
                    <option value="tenant">{t('hsm:editor.zoneTenant')}</option>
                  </select>
                </label>
              </div>
            )}
            <label className="hsm-check">
              <input type="checkbox" checked={d.capOn} onChange={(e) => set('capOn', e.target.checked)} /> {t('hsm:editor.cap')}
            </label>
            {d.capOn && (
              <div className="form-grid hsm-form-row">
                {num('capMax', t('hsm:editor.capMax'), 1)}
                {num('capHours', t('hsm:editor.capHours'), 1)}
              </div>
            )}
            <label className="hsm-check">
              <input type="checkbox" checked={d.enabled} onChange={(e) => set('enabled', e.target.checked)} data-testid="rule-enabled" /> {t('hsm:editor.enabled')}
            </label>
          </fieldset>
          {save.isError && <InlineError error={save.error} />}
          <div className="hsm-form-actions">
            <Button variant="ghost" onClick={onCancel}>{t('hsm:editor.cancel')}</Button>
            <Button onClick={() => submit(true)()} loading={save.isPending}>{t('hsm:editor.saveAndTest')}</Button>
            <Button type="submit" variant="primary" loading={save.isPending} data-testid="rule-save">{t('hsm:editor.save')}</Button>
          </div>
        </div>
        <aside className="hsm-preview-col">
          <h3 className="section-title">{t('hsm:form.preview')}</h3>
          {preview ? <WhatsAppPreview parts={preview} /> : <p className="muted small">{t('hsm:editor.pickTemplate')}</p>}
          {preview && <p className="muted small">{t('hsm:editor.previewHint')}</p>}
        </aside>
      </form>
    </Card>
  );
}
