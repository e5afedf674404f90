// Fixed-height row windowing: which rows of a long list to render for a
// scroll position, so 100k leads cost as much DOM as one screenful.

export interface WindowRange {
  /** First rendered row (inclusive). */
  start: number;
  /** Last rendered row (exclusive). */
  end: number;
  /** Space above the first rendered row, px. */
  offsetTop: number;
  /** Height of the whole list, px. */
  totalHeight: number;
}

export function windowRange(count: number, rowHeight: number, scrollTop: number, viewportHeight: number, overscan = 6): WindowRange {
  const totalHeight = Math.max(0, count) * rowHeight;
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0, offsetTop: 0, totalHeight: 0 };
  const top = Math.min(Math.max(0, scrollTop), Math.max(0, totalHeight - viewportHeight));
  const first = Math.floor(top / rowHeight);
  const visible = Math.ceil(Math.max(viewportHeight, rowHeight) / rowHeight) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + visible + overscan);
  return { start, end, offsetTop: start * rowHeight, totalHeight };
}

/** Whether the rendered window reaches close enough to the end to fetch the next page. */
export function nearEnd(range: WindowRange, count: number, threshold = 20): boolean {
  return count > 0 && range.end >= count - threshold;
}
