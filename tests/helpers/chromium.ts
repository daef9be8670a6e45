/**
 * Headless Chromium for the integration tests: Debian's `chromium` (installed by .ci/run) driven by
 * playwright-core. Playwright gives every launch a fresh temporary profile. Network is cut: any request
 * that is not a `file:` URL is aborted and recorded, so a page that needs the network fails its test.
 */
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** What a page did besides rendering: console errors and warnings, page errors, dialogs, network requests. */
export interface PageLog {
  console: string[];
  errors: string[];
  dialogs: string[];
  network: string[];
}

/** Opens a new page that records everything in {@link PageLog} and blocks the network. */
export async function watchedPage(browser: Browser, viewport = { width: 1366, height: 900 }): Promise<{ page: Page; log: PageLog }> {
  const page = await browser.newPage({ viewport });
  const log: PageLog = { console: [], errors: [], dialogs: [], network: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') log.console.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => log.errors.push(e.message));
  page.on('dialog', (d) => {
    log.dialogs.push(d.message());
    void d.dismiss();
  });
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    log.network.push(url);
    return route.abort();
  });
  return { page, log };
}
