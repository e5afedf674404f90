import { useEffect, useRef, useState, type ReactNode } from 'react';
import { nearEnd, windowRange } from '../lib/windowing';

export interface VirtualListProps<T> {
  items: T[];
  rowHeight: number;
  /** Height of the scrolling viewport, px. */
  height: number;
  rowKey: (item: T) => string;
  renderRow: (item: T, index: number) => ReactNode;
  /** Called when the rendered window gets near the end of `items`. */
  onNearEnd?: () => void;
  label: string;
  /** Extra class names of a row element (which is the `role="row"` element). */
  rowClassName?: (item: T) => string;
}

/** Renders only the rows in view (plus a few), so long lists stay fast. */
export function VirtualList<T>({ items, rowHeight, height, rowKey, renderRow, onNearEnd, label, rowClassName }: VirtualListProps<T>) {
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const range = windowRange(items.length, rowHeight, scrollTop, height);
  const wantMore = onNearEnd !== undefined && nearEnd(range, items.length);

  useEffect(() => {
    if (wantMore) onNearEnd?.();
  }, [wantMore, items.length, onNearEnd]);

  return (
    <div ref={ref} className="vlist" style={{ height }} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)} role="rowgroup" aria-label={label}>
      <div style={{ height: range.totalHeight, position: 'relative' }}>
        <div style={{ transform: `translateY(${range.offsetTop}px)` }}>
          {items.slice(range.start, range.end).map((item, i) => (
            <div key={rowKey(item)} className={`vlist-row ${rowClassName?.(item) ?? ''}`} style={{ height: rowHeight }} role="row" aria-rowindex={range.start + i + 2}>
              {renderRow(item, range.start + i)}
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}
