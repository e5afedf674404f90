// Delivery status of a WhatsApp message as the lead panel shows it.

import type { Message } from '../api/types';

/** Statuses only move forward (server's rank): failed beats sent/delivered but never read. */
const RANK: Record<string, number> = { sending: 0, sent: 1, delivered: 2, failed: 3, read: 4, played: 4 };

/**
 * The furthest status the message reached, from its status and its
 * timestamps (a message with a read time was read, whatever status a
 * concurrent, older update left).
 */
export function effectiveStatus(m: Pick<Message, 'status' | 'sent_at' | 'delivered_at' | 'read_at'>): string {
  let best = m.status;
  const consider = (s: string, reached: boolean) => {
    if (reached && (RANK[s] ?? -1) > (RANK[best] ?? -1)) best = s;
  };
  consider('sent', !!m.sent_at);
  consider('delivered', !!m.delivered_at);
  consider('read', !!m.read_at);
  return best;
}
