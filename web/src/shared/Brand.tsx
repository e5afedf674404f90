import { TrendingUp } from 'lucide-react';

export function BrandMark({ compact = false }: { compact?: boolean }) {
  return (
    <div className="brand">
      <span className="brand-logo" aria-hidden>
        <TrendingUp size={18} />
      </span>
      {!compact && <span className="brand-name">CRM Ventas</span>}
    </div>
  );
}
