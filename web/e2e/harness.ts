import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const WEB_DIR = resolve(here, '..');
export const SCREENSHOT_DIR = join(WEB_DIR, 'test-results', 'screenshots');

export interface RunningServer {
  url: string;
  dataDir: string;
  /** Everything the server printed, for failure messages. */
  output: () => string;
  stop: () => Promise<void>;
}

/** Path of the `crm` binary: `CRM_BIN`, else the workspace's debug build. */
export function crmBinary(): string {
  return resolve(WEB_DIR, process.env.CRM_BIN ?? '../target/debug/crm');
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
// The stdout line, printed after the sandbox's own line ("Meta sandbox at …"):
// matching the stderr log line instead could resolve before stdout arrived.
const LISTENING = /CRM Ventas listening on (http:\/\/127\.0\.0\.1:\d+)/;

/**
 * Start `crm serve` on a free port with a fresh SQLite database in a new
 * temporary directory, and wait until it prints the URL it listens on.
 */
export async function startServer(timeoutMs = 60_000): Promise<RunningServer> {
  const bin = crmBinary();
  if (!existsSync(bin)) {
    throw new Error(`crm binary not found at ${bin}: build it with \`cargo build -p crm-server\` or set CRM_BIN`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'crm-e2e-'));
  const child: ChildProcess = spawn(bin, ['serve'], {
    env: {
      ...process.env,
      // CRM_E2E_DATABASE_URL runs the server on another database (e.g. a fresh PostgreSQL one).
      DATABASE_URL: process.env.CRM_E2E_DATABASE_URL ?? `sqlite://${dataDir}/e2e.db?mode=rwc`,
      CRM_LISTEN: '127.0.0.1:0',
      CRM_DATA_DIR: dataDir,
      // Development mode: plain HTTP on loopback and the Meta sandbox.
      CRM_PRODUCTION: 'false',
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const output = () => log;

  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`crm serve did not report its URL within ${timeoutMs} ms. Output:\n${log}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      log += chunk.toString('utf8');
      const match = LISTENING.exec(log.replace(ANSI, ''));
      if (match?.[1]) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`crm serve exited early (code ${code}, signal ${signal}). Output:\n${log}`));
    });
  });

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000));
      if ((await Promise.race([exited, timeout])) === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, dataDir, output, stop };
}

/** Headless Debian Chromium driven by playwright-core. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Save a screenshot of the viewport under test-results/screenshots/NAME.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`) });
}
