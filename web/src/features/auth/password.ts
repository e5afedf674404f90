import { ApiError } from '../../api/client';

// Same rule as the server (crm-core validate::password).
export const MIN_PASSWORD_LENGTH = 10;

/** Error codes about the new password itself: shown under the new-password field. */
const NEW_PASSWORD_CODES = new Set(['weak_password', 'common_password', 'same_password', 'invalid_password']);

export function isNewPasswordError(err: unknown): boolean {
  return err instanceof ApiError && NEW_PASSWORD_CODES.has(err.code);
}

/**
 * Client-side checks of a new password and its repetition, as i18n keys:
 * the server's minimum length, and both typed the same.
 */
export function validateNewPassword(password: string, repeat: string): { password?: string; repeat?: string } {
  const errors: { password?: string; repeat?: string } = {};
  if ([...password].length < MIN_PASSWORD_LENGTH) errors.password = 'validation.passwordLength';
  if (repeat !== password) errors.repeat = 'validation.passwordMatch';
  return errors;
}
