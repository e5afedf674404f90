import '@testing-library/jest-dom/vitest';
import { afterEach } from 'vitest';
import { cleanup, configure } from '@testing-library/react';
import '../i18n';

// Generous waits: CI machines are shared with compilers.
configure({ asyncUtilTimeout: 5000 });

// jsdom does not implement scrolling; the router restores scroll on navigation.
window.scrollTo = (() => undefined) as typeof window.scrollTo;

afterEach(() => {
  cleanup();
});
