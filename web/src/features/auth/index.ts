export { LoginPage } from './routes/LoginPage';
export { SetupPage } from './routes/SetupPage';
export { LogoutPage } from './routes/LogoutPage';
