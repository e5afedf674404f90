import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Receipt, Undo2 } from 'lucide-react';
import { Button, Dialog, InlineError, SelectField, TextField, useToast } from '../../../shared/ui';
import { supportedCurrencies } from '../../../shared/format';
import { useCreateSale, useRefundSale } from '../api/leads';
import { SALE_STATUSES, type Opportunity, type Sale, type SaleStatus } from '../api/types';
import { formatMinor, parseMajorToMinor } from '../lib/money';

export function SaleDialog({ open, onClose, leadId, opportunities }: { open: boolean; onClose: () => void; leadId: string; opportunities: Opportunity[] }) {
  const { t, i18n } = useTranslation('leads');
  const toast = useToast();
  const create = useCreateSale(leadId);
  const first = opportunities[0];
  const [oppId, setOppId] = useState('');
  const [amount, setAmount] = useState('');
  const [currency, setCurrency] = useState('');
  const [status, setStatus] = useState<SaleStatus>('completed');
  const [method, setMethod] = useState('');
  const [invoice, setInvoice] = useState('');
  const [touched, setTouched] = useState(false);

  const opp = opportunities.find((o) => o.id === oppId) ?? first;
  const cur = currency || opp?.currency || 'USD';
  const minor = parseMajorToMinor(amount, cur);

  const close = () => {
    setOppId('');
    setAmount('');
    setCurrency('');
    setStatus('completed');
    setMethod('');
    setInvoice('');
    setTouched(false);
    create.reset();
    onClose();
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (!opp || minor === null || minor <= 0) return;
    create.mutate(
      {
        opportunity_id: opp.id,
        amount_minor: minor,
        currency: cur,
        status,
        method: method.trim() || null,
        invoice_ref: invoice.trim() || null,
      },
      {
        onSuccess: (s) => {
          toast.success(t('leads:sales.recorded', { amount: formatMinor(s.amount_minor, s.currency, i18n.language) }));
          close();
        },
      },
    );
  };

  return (
    <Dialog open={open} title={t('leads:sales.record')} description={t('leads:sales.recordDescription')} onClose={close}>
      {!first ? (
        <p className="muted">{t('leads:sales.noOpps')}</p>
      ) : (
        <form className="form" onSubmit={onSubmit} noValidate>
          <SelectField
            label={t('leads:sales.opportunity')}
            name="opportunity"
            value={opp?.id ?? ''}
            onChange={(e) => setOppId(e.target.value)}
            options={opportunities.map((o) => ({ value: o.id, label: `${o.name} · ${formatMinor(o.value_minor, o.currency, i18n.language)}` }))}
          />
          <div className="form-grid">
            <TextField
              label={t('leads:sales.amount')}
              name="amount"
              inputMode="decimal"
              value={amount}
              onChange={(e) => setAmount(e.target.value)}
              error={touched && (minor === null || minor <= 0) ? t('leads:opps.invalidAmount', { currency: cur }) : undefined}
            />
            <SelectField label={t('leads:sales.currency')} name="currency" value={cur} onChange={(e) => setCurrency(e.target.value)} options={supportedCurrencies().map((c) => ({ value: c, label: c }))} />
            <SelectField
              label={t('leads:sales.status')}
              name="status"
              value={status}
              onChange={(e) => setStatus(e.target.value as SaleStatus)}
              options={SALE_STATUSES.map((s) => ({ value: s, label: t(`sales.statuses.${s}`) }))}
            />
            <TextField label={t('leads:sales.method')} name="method" value={method} onChange={(e) => setMethod(e.target.value)} hint={t('leads:sales.methodHint')} />
          </div>
          <TextField label={t('leads:sales.invoice')} name="invoice" value={invoice} onChange={(e) => setInvoice(e.target.value)} />
          <InlineError error={create.error} />
          <div className="dialog-actions">
            <Button onClick={close}>{t('translation:common.cancel')}</Button>
            <Button type="submit" variant="primary" loading={create.isPending} icon={<Receipt size={16} aria-hidden />}>
              {t('leads:sales.submit')}
            </Button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

export function RefundDialog({ sale, onClose, leadId }: { sale: Sale | null; onClose: () => void; leadId: string }) {
  const { t, i18n } = useTranslation('leads');
  const toast = useToast();
  const refund = useRefundSale(leadId);
  const [amount, setAmount] = useState('');
  const close = () => {
    setAmount('');
    refund.reset();
    onClose();
  };
  const minor = amount.trim() && sale ? parseMajorToMinor(amount, sale.currency) : undefined;
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (!sale || minor === null) return;
    refund.mutate(
      { id: sale.id, ...(minor !== undefined ? { amount_minor: minor } : {}) },
      {
        onSuccess: (r) => {
          toast.success(t('leads:sales.refunded', { amount: formatMinor(r.amount_minor, r.currency, i18n.language) }));
          close();
        },
      },
    );
  };
  return (
    <Dialog open={sale !== null} title={t('leads:sales.refundTitle')} description={t('leads:sales.refundDescription')} onClose={close}>
      <form className="form" onSubmit={onSubmit} noValidate>
        <TextField
          label={`${t('leads:sales.refundAmount')} (${sale?.currency ?? ''})`}
          name="refund_amount"
          inputMode="decimal"
          value={amount}
          onChange={(e) => setAmount(e.target.value)}
          placeholder={sale ? formatMinor(sale.amount_minor, sale.currency, i18n.language) : ''}
          error={minor === null ? t('leads:opps.invalidAmount', { currency: sale?.currency ?? '' }) : undefined}
        />
        <InlineError error={refund.error} />
        <div className="dialog-actions">
          <Button onClick={close}>{t('translation:common.cancel')}</Button>
          <Button type="submit" variant="danger" loading={refund.isPending} icon={<Undo2 size={16} aria-hidden />}>
            {t('leads:sales.refundSubmit')}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
