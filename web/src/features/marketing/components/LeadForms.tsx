import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { RotateCcw, Save, SlidersHorizontal } from 'lucide-react';
import { Badge, Button, Card, EmptyState, ErrorState, InlineError, LoadingState, useToast } from '../../../shared/ui';
import { formatDateTime } from '../../../shared/format';
import {
  type LeadFormDetail,
  type MappingTarget,
  useLeadForm,
  useLeadForms,
  useResetLeadFormMapping,
  useSaveLeadFormMapping,
} from '../api/marketing';

/** Targets that hold one answer: two questions cannot share them. */
export const SINGLE_VALUED: readonly MappingTarget[] = ['full_name', 'first_name', 'last_name', 'email', 'phone'];

/** Question keys that share a single-valued target with an earlier question, in form order. */
export function duplicateKeys(questions: readonly { key: string }[], mapping: Record<string, MappingTarget>): string[] {
  const seen = new Set<MappingTarget>();
  const dups: string[] = [];
  for (const q of questions) {
    const target = mapping[q.key];
    if (!target || !SINGLE_VALUED.includes(target)) continue;
    if (seen.has(target)) dups.push(q.key);
    seen.add(target);
  }
  return dups;
}

function mappingOf(form: LeadFormDetail): Record<string, MappingTarget> {
  return Object.fromEntries(form.questions.map((q) => [q.key, q.target]));
}

type EditorProps = {
  form: LeadFormDetail;
  canManage: boolean;
  saving?: boolean;
  resetting?: boolean;
  error?: unknown;
  onSave: (mapping: Record<string, MappingTarget>) => void;
  onReset: () => void;
};

/** Where each question of one Lead Ads form goes on the CRM lead. */
export function LeadFormMappingEditor({ form, canManage, saving, resetting, error, onSave, onReset }: EditorProps) {
  const { t, i18n } = useTranslation('marketing');
  const [mapping, setMapping] = useState(() => mappingOf(form));
  useEffect(() => setMapping(mappingOf(form)), [form]);
  const dups = duplicateKeys(form.questions, mapping);
  const changed = form.questions.some((q) => mapping[q.key] !== q.target);
  const targets = form.targets.length ? form.targets : (['full_name', 'first_name', 'last_name', 'email', 'phone', 'note', 'tag', 'ignore'] as MappingTarget[]);

  return (
    <div className="mk-leadform" data-form={form.form_id}>
      <p className="muted small">
        {form.customized
          ? t('leadForms.customized', { at: form.updated_at ? formatDateTime(form.updated_at, i18n.language) : '' })
          : t('leadForms.usingDefault')}
      </p>
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">{t('leadForms.question')}</th>
              <th scope="col">{t('leadForms.key')}</th>
              <th scope="col">{t('leadForms.target')}</th>
            </tr>
          </thead>
          <tbody>
            {form.questions.map((q) => {
              const dup = dups.includes(q.key);
              const id = `mk-target-${q.key}`;
              return (
                <tr key={q.key} data-question={q.key}>
                  <td>
                    <label htmlFor={id}>{q.label || q.key}</label>
                    {q.type && <span className="muted small"> · {q.type}</span>}
                  </td>
                  <td className="mono small">{q.key}</td>
                  <td>
                    <select
                      id={id}
                      className="input select input-sm"
                      value={mapping[q.key]}
                      disabled={!canManage}
                      aria-invalid={dup || undefined}
                      onChange={(e) => setMapping({ ...mapping, [q.key]: e.target.value as MappingTarget })}
                    >
                      {targets.map((tg) => (
                        <option key={tg} value={tg}>
                          {t(`leadForms.targets.${tg}`)}
                          {tg === q.default_target ? ` (${t('leadForms.default')})` : ''}
                        </option>
                      ))}
                    </select>
                    {dup && (
                      <div className="field-error small" role="alert">
                        {t('leadForms.duplicate', { target: t(`leadForms.targets.${mapping[q.key]}`) })}
                      </div>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <p className="muted small">{t('leadForms.hint')}</p>
      <InlineError error={error} />
      {canManage && (
        <div className="dialog-actions">
          <Button variant="secondary" onClick={onReset} loading={resetting} disabled={!form.customized && !changed}>
            <RotateCcw size={14} aria-hidden />
            {t('leadForms.reset')}
          </Button>
          <Button variant="primary" onClick={() => onSave(mapping)} loading={saving} disabled={dups.length > 0}>
            <Save size={14} aria-hidden />
            {t('leadForms.save')}
          </Button>
        </div>
      )}
    </div>
  );
}

/** Lead Ads forms of the selected Pages, each with its field mapping editor. */
export function LeadForms({ canManage }: { canManage: boolean }) {
  const { t } = useTranslation('marketing');
  const toast = useToast();
  const forms = useLeadForms();
  const [selected, setSelected] = useState<string | null>(null);
  const items = useMemo(() => forms.data?.items ?? [], [forms.data]);
  const current = selected ?? items[0]?.form_id ?? null;
  const form = useLeadForm(current);
  const save = useSaveLeadFormMapping();
  const reset = useResetLeadFormMapping();

  if (forms.isPending) return <LoadingState />;
  if (forms.isError) return <ErrorState error={forms.error} onRetry={() => void forms.refetch()} />;
  if (items.length === 0) return <EmptyState title={t('leadForms.empty')} description={t('leadForms.emptyHint')} />;

  return (
    <div className="mk-leadforms">
      <p className="muted">{t('leadForms.description')}</p>
      <Card className="mk-card-flush" title={t('leadForms.list')}>
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{t('leadForms.form')}</th>
                <th scope="col">{t('leadForms.page')}</th>
                <th scope="col">{t('leadForms.questions')}</th>
                <th scope="col">{t('leadForms.mapping')}</th>
                <th scope="col" aria-label={t('leadForms.actions')} />
              </tr>
            </thead>
            <tbody>
              {items.map((f) => (
                <tr key={f.form_id} data-form-row={f.form_id} aria-current={f.form_id === current || undefined}>
                  <td>
                    {f.name ?? f.form_id}
                    {f.status && f.status !== 'ACTIVE' && <span className="muted small"> · {f.status}</span>}
                  </td>
                  <td>{f.page_name ?? f.page_id}</td>
                  <td>{f.question_count}</td>
                  <td>{f.customized ? <Badge tone="info">{t('leadForms.custom')}</Badge> : <Badge>{t('leadForms.defaultBadge')}</Badge>}</td>
                  <td>
                    <Button variant="ghost" size="sm" onClick={() => setSelected(f.form_id)} aria-label={t('leadForms.edit', { name: f.name ?? f.form_id })}>
                      <SlidersHorizontal size={14} aria-hidden />
                      {t('leadForms.editShort')}
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>
      {current && (
        <Card title={t('leadForms.editorTitle', { name: items.find((f) => f.form_id === current)?.name ?? current })}>
          {form.isPending ? (
            <LoadingState />
          ) : form.isError ? (
            <ErrorState error={form.error} onRetry={() => void form.refetch()} />
          ) : (
            <LeadFormMappingEditor
              form={form.data}
              canManage={canManage}
              saving={save.isPending}
              resetting={reset.isPending}
              error={save.error ?? reset.error}
              onSave={(mapping) => {
                reset.reset();
                save.mutate({ formId: form.data.form_id, mapping }, { onSuccess: () => toast.success(t('leadForms.saved')) });
              }}
              onReset={() => {
                save.reset();
                reset.mutate(form.data.form_id, { onSuccess: () => toast.success(t('leadForms.resetDone')) });
              }}
            />
          )}
        </Card>
      )}
    </div>
  );
}
