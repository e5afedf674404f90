/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Copies Swagger UI's assets into dist/swagger/ for the server's /api/docs page (no CDN). */
function swaggerAssets() {
  return {
    name: 'crm-swagger-assets',
    apply: 'build' as const,
    closeBundle() {
      const from = dirname(require.resolve('swagger-ui-dist/package.json'));
      const to = join(dirname(fileURLToPath(import.meta.url)), 'dist', 'swagger');
      mkdirSync(to, { recursive: true });
      for (const f of ['swagger-ui-bundle.js', 'swagger-ui.css']) copyFileSync(join(from, f), join(to, f));
    },
  };
}

// The Rust server embeds `dist/` and serves it with an index.html fallback.
// In development, Vite serves the app and forwards API calls to `crm serve`.
export default defineConfig({
  plugins: [react(), swaggerAssets()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', changeOrigin: false },
    },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
    testTimeout: 30_000,
    css: { modules: { classNameStrategy: 'non-scoped' } },
  },
});
