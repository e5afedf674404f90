import { useState, type ChangeEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { ArrowLeft, FileUp, Upload } from 'lucide-react';
import { Button, Card, InlineError, PageHeader } from '../../../shared/ui';
import { useImportLeads } from '../api/leads';
import type { ImportReport } from '../api/types';
import { IMPORT_FIELDS, guessMapping, mappingHasIdentity, parseCsvPreview, type MappingTarget } from '../lib/mapping';
import '../leads.css';

type Step = 'file' | 'mapping' | 'report';

function readText(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(typeof reader.result === 'string' ? reader.result : '');
    reader.onerror = () => reject(reader.error ?? new Error('read failed'));
    reader.readAsText(file, 'utf-8');
  });
}

interface Loaded {
  name: string;
  text: string;
  headers: string[];
  rows: string[][];
}

export default function ImportPage() {
  const { t } = useTranslation('leads');
  const [step, setStep] = useState<Step>('file');
  const [file, setFile] = useState<Loaded | null>(null);
  const [mapping, setMapping] = useState<Record<string, MappingTarget>>({});
  const [fileError, setFileError] = useState<string | null>(null);
  const [report, setReport] = useState<ImportReport | null>(null);
  const run = useImportLeads();

  const onFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const f = e.target.files?.[0];
    e.target.value = '';
    if (!f) return;
    setFileError(null);
    let text: string;
    try {
      text = await readText(f);
    } catch {
      setFileError(t('leads:import.readError'));
      return;
    }
    const preview = parseCsvPreview(text);
    if (preview.headers.length === 0 || preview.headers.every((h) => !h)) {
      setFileError(t('leads:import.emptyFile'));
      return;
    }
    setFile({ name: f.name, text, headers: preview.headers, rows: preview.rows });
    setMapping(guessMapping(preview.headers));
    run.reset();
    setStep('mapping');
  };

  const submit = () => {
    if (!file) return;
    run.mutate(
      { text: file.text, mapping },
      {
        onSuccess: (r) => {
          setReport(r);
          setStep('report');
        },
      },
    );
  };

  const restart = () => {
    setFile(null);
    setMapping({});
    setReport(null);
    run.reset();
    setStep('file');
  };

  const steps: Step[] = ['file', 'mapping', 'report'];
  return (
    <div className="page">
      <Link to="/crm/leads" className="back-link">
        <ArrowLeft size={16} aria-hidden /> {t('leads:detail.back')}
      </Link>
      <PageHeader title={t('leads:import.title')} description={t('leads:import.description')} />
      <ol className="import-steps" aria-label={t('leads:import.title')}>
        {steps.map((s, i) => (
          <li key={s} className={`import-step${s === step ? ' import-step-active' : steps.indexOf(step) > i ? ' import-step-done' : ''}`} aria-current={s === step ? 'step' : undefined}>
            {i + 1}. {t(`import.steps.${s}`)}
          </li>
        ))}
      </ol>

      {step === 'file' && (
        <Card>
          <label className="import-drop">
            <FileUp size={28} aria-hidden />
            <span className="btn btn-primary">{t('leads:import.chooseFile')}</span>
            <input className="sr-only" type="file" accept=".csv,text/csv" aria-label={t('leads:import.chooseFile')} onChange={(e) => void onFile(e)} />
            <span className="muted small">{t('leads:import.fileHint')}</span>
          </label>
          {fileError && (
            <p className="field-error" role="alert">
              {fileError}
            </p>
          )}
        </Card>
      )}

      {step === 'mapping' && file && (
        <Card title={t('leads:import.fileInfo', { name: file.name, columns: file.headers.length })}>
          <p className="muted">{t('leads:import.mappingHint')}</p>
          <div className="table-wrap import-table">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">{t('leads:import.column')}</th>
                  <th scope="col">{t('leads:import.sample')}</th>
                  <th scope="col">{t('leads:import.field')}</th>
                </tr>
              </thead>
              <tbody>
                {file.headers.map((h, i) => (
                  <tr key={`${h}-${i}`}>
                    <td className="cell-strong">{h}</td>
                    <td className="muted import-sample">
                      {file.rows
                        .map((r) => r[i] ?? '')
                        .filter(Boolean)
                        .slice(0, 2)
                        .join(' · ')}
                    </td>
                    <td>
                      <select
                        className="input select input-sm"
                        aria-label={t('leads:import.fieldFor', { column: h })}
                        value={mapping[h] ?? '-'}
                        onChange={(e) => setMapping((m) => ({ ...m, [h]: e.target.value as MappingTarget }))}
                      >
                        <option value="-">{t('leads:import.ignore')}</option>
                        {IMPORT_FIELDS.map((f) => (
                          <option key={f} value={f}>
                            {t(`import.fields.${f}`)}
                          </option>
                        ))}
                      </select>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {!mappingHasIdentity(mapping) && (
            <p className="field-error" role="alert">
              {t('leads:import.noIdentity')}
            </p>
          )}
          <InlineError error={run.error} />
          <div className="dialog-actions">
            <Button onClick={restart}>{t('leads:import.back')}</Button>
            <Button variant="primary" icon={<Upload size={16} aria-hidden />} loading={run.isPending} disabled={!mappingHasIdentity(mapping)} onClick={submit}>
              {t('leads:import.submit')}
            </Button>
          </div>
        </Card>
      )}

      {step === 'report' && report && (
        <>
          <Card title={t('leads:import.done')}>
            <div className="import-stats">
              <Stat label={t('leads:import.report.rows')} value={report.rows} />
              <Stat label={t('leads:import.report.created')} value={report.created} tone="success" />
              <Stat label={t('leads:import.report.duplicates')} value={report.duplicates} tone="warning" />
              <Stat label={t('leads:import.report.invalid')} value={report.invalid} tone="danger" />
            </div>
            {report.ignored_columns.length > 0 && <p className="muted small">{t('leads:import.ignoredColumns', { columns: report.ignored_columns.join(', ') })}</p>}
            {report.duplicate_lines.length > 0 && <p className="muted small">{t('leads:import.duplicateLines', { lines: report.duplicate_lines.join(', ') })}</p>}
            <div className="dialog-actions">
              <Button onClick={restart}>{t('leads:import.again')}</Button>
              <Link className="btn btn-primary" to="/crm/leads">
                <span>{t('leads:import.openLeads')}</span>
              </Link>
            </div>
          </Card>
          <Card title={t('leads:import.errorsTitle')}>
            {report.errors.length === 0 ? (
              <p className="muted">{t('leads:import.noErrors')}</p>
            ) : (
              <div className="table-wrap">
                <table className="table" aria-label={t('leads:import.errorsTitle')}>
                  <thead>
                    <tr>
                      <th scope="col">{t('leads:import.line')}</th>
                      <th scope="col">{t('leads:import.errorField')}</th>
                      <th scope="col">{t('leads:import.reason')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {report.errors.map((e, i) => (
                      <tr key={`${e.line}-${i}`}>
                        <td className="mono">{e.line}</td>
                        <td>{e.field ? t(`import.fields.${e.field}`, { defaultValue: e.field }) : '—'}</td>
                        <td title={e.reason}>{t(`import.codes.${e.code}`, { defaultValue: e.reason })}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            {report.truncated && <p className="muted small">{t('leads:import.truncated')}</p>}
          </Card>
        </>
      )}
    </div>
  );
}

function Stat({ label, value, tone }: { label: string; value: number; tone?: 'success' | 'warning' | 'danger' }) {
  return (
    <div className={`import-stat${tone ? ` import-stat-${tone}` : ''}`}>
      <span className="import-stat-value">{value}</span>
      <span className="import-stat-label">{label}</span>
    </div>
  );
}
