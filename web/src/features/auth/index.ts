export { LoginPage } from './routes/LoginPage';
export { SetupPage } from './routes/SetupPage';
export { LogoutPage } from './routes/LogoutPage';
export { ForgotPasswordPage } from './routes/ForgotPasswordPage';
export { ResetPasswordPage } from './routes/ResetPasswordPage';
