export {
  SESSION_KEY,
  SETUP_KEY,
  fetchSession,
  fetchSetupStatus,
  useSessionQuery,
  useSetupStatus,
  acceptSession,
  clearSession,
  useSession,
  hasPermission,
  usePermission,
  logout,
} from './session';
