import { useState, type ReactNode } from 'react';
import { rowWindow } from '../lib/windowing';

export interface VirtualRowsProps<T> {
  items: readonly T[];
  rowHeight: number;
  /** Most height the list takes before it scrolls, px. */
  maxHeight: number;
  rowKey: (item: T) => string;
  renderRow: (item: T, index: number) => ReactNode;
  label: string;
  /** Row count of the header above, so `aria-rowindex` counts it. */
  headerRows?: number;
}

/** A scrolling body that renders only the rows in view (plus a few). */
export function VirtualRows<T>({ items, rowHeight, maxHeight, rowKey, renderRow, label, headerRows = 1 }: VirtualRowsProps<T>) {
  const [scrollTop, setScrollTop] = useState(0);
  const height = Math.min(maxHeight, items.length * rowHeight);
  const w = rowWindow(items.length, rowHeight, scrollTop, height);
  return (
    <div className="mk-vbody" style={{ height }} role="rowgroup" aria-label={label} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)} data-rendered={w.end - w.start}>
      <div style={{ height: w.padTop }} aria-hidden />
      {items.slice(w.start, w.end).map((item, i) => (
        <div key={rowKey(item)} role="row" className="mk-row" style={{ height: rowHeight }} aria-rowindex={headerRows + w.start + i + 1}>
          {renderRow(item, w.start + i)}
        </div>
      ))}
      <div style={{ height: w.padBottom }} aria-hidden />
    </div>
  );
}
