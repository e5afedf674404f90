import { useState, type ChangeEvent, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Trash2, Upload } from 'lucide-react';
import { Button, Card, Dialog, EmptyState, ErrorState, InlineError, LoadingState, SelectField, TextField, useToast } from '../../../shared/ui';
import { formatDate, supportedCurrencies } from '../../../shared/format';
import { type FxRate, useDeleteFx, useFxRates, useImportFx, usePutFx } from '../api/marketing';

const RATE = /^\d+(\.\d{1,9})?$/;
const CODE = /^[A-Z]{3}$/;

export function today(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** Whether a typed rate is one the API takes: a positive decimal with at most 9 decimals. */
export function validRate(rate: string): boolean {
  return RATE.test(rate.trim()) && Number(rate) > 0;
}

/** FX rates into the reporting currency: list, add, delete and CSV import. */
export function FxRates({ reporting, canManage }: { reporting: string; canManage: boolean }) {
  const { t, i18n } = useTranslation('marketing');
  const locale = i18n.language;
  const toast = useToast();
  const [from, setFrom] = useState('');
  const rates = useFxRates(from);
  const put = usePutFx();
  const del = useDeleteFx();
  const importFx = useImportFx();
  const [form, setForm] = useState({ date: today(), from_currency: '', to_currency: reporting, rate: '' });
  const [csv, setCsv] = useState('');
  const [confirm, setConfirm] = useState<FxRate | null>(null);
  const items = rates.data?.pages.flatMap((p) => p.items) ?? [];
  const currencies = supportedCurrencies();
  const formOk = CODE.test(form.from_currency) && CODE.test(form.to_currency) && form.from_currency !== form.to_currency && validRate(form.rate) && !!form.date;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!formOk) return;
    put.mutate(
      { date: form.date, from_currency: form.from_currency, to_currency: form.to_currency, rate: form.rate.trim() },
      {
        onSuccess: (r) => {
          toast.success(t('fx.saved', { from: r.from_currency, to: r.to_currency, date: r.date }));
          setForm((f) => ({ ...f, rate: '' }));
        },
      },
    );
  };
  const pickFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    if (file) setCsv(await file.text());
    e.target.value = '';
  };
  const runImport = () => {
    importFx.mutate(csv, {
      onSuccess: (r) => {
        toast.success(t('fx.imported', { count: r.upserted }));
        setCsv('');
      },
    });
  };

  return (
    <div className="mk-fx">
      <p className="muted">{t('fx.description', { currency: reporting })}</p>
      {canManage && (
        <div className="mk-fx-forms">
          <Card title={t('fx.add')}>
            <form className="mk-fx-form" onSubmit={submit}>
              <TextField label={t('fx.date')} type="date" value={form.date} onChange={(e) => setForm({ ...form, date: e.target.value })} required />
              <SelectField
                label={t('fx.from')}
                value={form.from_currency}
                onChange={(e) => setForm({ ...form, from_currency: e.target.value })}
                required
                options={[{ value: '', label: '—' }, ...currencies.map((c) => ({ value: c, label: c }))]}
              />
              <SelectField label={t('fx.to')} value={form.to_currency} onChange={(e) => setForm({ ...form, to_currency: e.target.value })} options={currencies.map((c) => ({ value: c, label: c }))} />
              <TextField
                label={t('fx.rate')}
                inputMode="decimal"
                value={form.rate}
                placeholder="0.00105"
                hint={form.from_currency ? t('fx.rateHint', { from: form.from_currency, to: form.to_currency }) : undefined}
                error={form.rate && !validRate(form.rate) ? t('fx.rateInvalid') : undefined}
                onChange={(e) => setForm({ ...form, rate: e.target.value.replace(',', '.') })}
              />
              <div className="mk-fx-submit">
                <Button type="submit" variant="primary" disabled={!formOk} loading={put.isPending}>
                  {t('fx.save')}
                </Button>
              </div>
            </form>
            <InlineError error={put.error} />
          </Card>
          <Card title={t('fx.import')}>
            <p className="muted small">{t('fx.importHint')}</p>
            <pre className="mk-code">{'date,from_currency,rate,to_currency\n2026-11-01,ARS,0.00105,USD'}</pre>
            <label className="btn btn-secondary btn-sm mk-file">
              <Upload size={14} aria-hidden />
              <span>{t('fx.chooseFile')}</span>
              <input type="file" accept=".csv,text/csv" className="sr-only" onChange={(e) => void pickFile(e)} />
            </label>
            <textarea className="input mk-csv" rows={5} aria-label={t('fx.csv')} value={csv} onChange={(e) => setCsv(e.target.value)} placeholder={t('fx.csvPlaceholder')} />
            <div className="dialog-actions">
              <Button variant="primary" disabled={!csv.trim()} loading={importFx.isPending} onClick={runImport}>
                {t('fx.importRun')}
              </Button>
            </div>
            <InlineError error={importFx.error} />
          </Card>
        </div>
      )}
      <Card
        className="mk-card-flush"
        title={t('fx.list')}
        actions={
          <label className="mk-inline-field">
            <span>{t('fx.filterFrom')}</span>
            <input className="input input-sm mk-code-input" value={from} maxLength={3} placeholder="ARS" onChange={(e) => setFrom(e.target.value.toUpperCase())} />
          </label>
        }
      >
        {rates.isPending ? (
          <LoadingState />
        ) : rates.isError ? (
          <ErrorState error={rates.error} onRetry={() => void rates.refetch()} />
        ) : items.length === 0 ? (
          <EmptyState title={t('fx.empty')} description={t('fx.emptyHint')} />
        ) : (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">{t('fx.date')}</th>
                  <th scope="col">{t('fx.pair')}</th>
                  <th scope="col" style={{ textAlign: 'right' }}>
                    {t('fx.rate')}
                  </th>
                  {canManage && <th scope="col" aria-label={t('fx.actions')} />}
                </tr>
              </thead>
              <tbody>
                {items.map((r) => (
                  <tr key={r.id} data-fx={`${r.date}:${r.from_currency}:${r.to_currency}`}>
                    <td>{formatDate(`${r.date}T12:00:00Z`, locale, 'UTC')}</td>
                    <td className="mono">
                      {r.from_currency} → {r.to_currency}
                    </td>
                    <td className="mono" style={{ textAlign: 'right' }}>
                      {r.rate}
                    </td>
                    {canManage && (
                      <td style={{ textAlign: 'right' }}>
                        <Button size="sm" variant="ghost" icon={<Trash2 size={14} aria-hidden />} aria-label={t('fx.delete', { date: r.date, from: r.from_currency })} onClick={() => setConfirm(r)} />
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {rates.hasNextPage && (
          <div className="load-more">
            <Button onClick={() => void rates.fetchNextPage()} loading={rates.isFetchingNextPage}>
              {t('fx.more')}
            </Button>
          </div>
        )}
      </Card>
      <Dialog open={confirm !== null} title={t('fx.deleteTitle')} description={confirm ? t('fx.deleteText', { date: confirm.date, from: confirm.from_currency, to: confirm.to_currency }) : ''} onClose={() => setConfirm(null)}>
        <InlineError error={del.error} />
        <div className="dialog-actions">
          <Button onClick={() => setConfirm(null)}>{t('fx.cancel')}</Button>
          <Button
            variant="danger"
            loading={del.isPending}
            onClick={() =>
              confirm &&
              del.mutate(confirm.id, {
                onSuccess: () => {
                  toast.success(t('fx.deleted'));
                  setConfirm(null);
                },
              })
            }
          >
            {t('fx.confirmDelete')}
          </Button>
        </div>
      </Dialog>
    </div>
  );
}
