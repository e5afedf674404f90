/** Only follow same-app paths after login (no `//host` or absolute URLs). */
export function safeNext(value: string | null): string {
  if (!value || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  if (['/login', '/setup', '/forgot-password', '/reset-password'].some((p) => value.startsWith(p))) return '/';
  return value;
}
