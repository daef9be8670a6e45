/**
 * summary.html and index.html as auditors see them: rendered by headless Chromium (Debian's chromium,
 * driven by playwright-core), figures read from the rendered page, no console errors, no network, names
 * inert, fits a laptop screen and an A4 landscape page. Screenshots and a PDF go to tests/artifacts/.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, watchedPage, type PageLog } from '../helpers/chromium.ts';
import { expectedCases, people, yuanGrouped, type ExpectedCase } from '../helpers/report-inbox.ts';
import { runScenario, type Scenario } from '../helpers/report-run.ts';

const ARTIFACTS = path.resolve('tests/artifacts');
let s: Scenario;
let browser: Browser;

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  s = await runScenario();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  if (s) fs.rmSync(s.root, { recursive: true, force: true });
});

const masked = (id: string): string => `${id.slice(0, 6)}********${id.slice(-4)}`;
const text = async (page: Page, selector: string): Promise<string> => ((await page.locator(selector).first().textContent()) ?? '').trim();
const cellTexts = async (page: Page, rowSelector: string): Promise<string[]> => (await page.locator(`${rowSelector} > td`).allTextContents()).map((t) => t.trim());
const clean = (log: PageLog): void => {
  expect(log.console, 'console errors/warnings').toEqual([]);
  expect(log.errors, 'page errors').toEqual([]);
  expect(log.dialogs, 'dialogs (an injected script ran)').toEqual([]);
  expect(log.network, 'network requests').toEqual([]);
};

describe.each([0, 1])('summary.html of run %i in Chromium', (i) => {
  const run = () => s.runs[i]!;
  const url = () => pathToFileURL(path.join(s.out, run().asOf, 'summary.html')).href;
  const exp = (): ExpectedCase[] => expectedCases(run().periods);

  it('shows the headline figures and the groups as rendered text', async () => {
    const { page, log } = await watchedPage(browser);
    await page.goto(url());
    const total = exp().reduce((sum, e) => sum + e.amountFen, 0);
    expect(await text(page, '#as-of')).toBe(run().asOf);
    expect(await text(page, '#total-amount b')).toBe(yuanGrouped(total));
    expect(await text(page, '#total-cases b')).toBe(String(exp().length));
    expect(await text(page, '#confirmed-cases b')).toBe(String(exp().filter((e) => e.confidence === 'confirmed').length));
    expect(await text(page, '#stop-requests b')).toBe(String(exp().filter((e) => e.confidence === 'confirmed' && e.running).length));
    for (const district of new Set(exp().map((e) => e.person.district))) {
      const mine = exp().filter((e) => e.person.district === district);
      const cells = await cellTexts(page, `#by-district tbody tr[data-key="${district}"]`);
      expect(cells[2]).toBe(String(mine.length));
      expect(cells[4]).toBe(yuanGrouped(mine.reduce((sum, e) => sum + e.amountFen, 0)));
    }
    const det = await cellTexts(page, '#by-detector tbody tr[data-key="deceased_payment"]');
    expect(det[5]).toBe(yuanGrouped(total));
    clean(log);
    await page.close();
  });

  it('renders the names as text, masks IDs, runs no script', async () => {
    const { page, log } = await watchedPage(browser);
    await page.goto(url());
    expect(await page.locator('script').count()).toBe(0);
    expect(await page.locator('img').count()).toBe(0);
    const body = (await page.locator('body').innerText());
    for (const e of exp()) {
      const row = page.locator(`#largest tr.case`, { hasText: masked(e.person.id) });
      expect(await row.count(), e.person.key).toBe(1);
      const cells = (await row.locator('td').allTextContents()).map((t) => t.trim());
      expect(cells[4]).toBe(e.person.name);
      expect(cells[9]).toBe(yuanGrouped(e.amountFen));
    }
    expect(body).toContain('<script>alert(1)</script>');
    expect(body).toContain('=HYPERLINK("x")');
    for (const p of people()) {
      expect(body).not.toContain(p.id);
      expect(body).not.toContain(p.account);
    }
    clean(log);
    await page.close();
  });

  it('draws the charts as inline SVG with the CJK font available', async () => {
    const { page, log } = await watchedPage(browser);
    await page.goto(url());
    for (const id of ['by-detector', 'by-district', 'by-lag', 'data-quality', ...(i > 0 ? ['trend'] : [])]) {
      const svg = page.locator(`#${id} figure svg`);
      expect(await svg.count(), id).toBe(1);
      const box = (await svg.boundingBox())!;
      expect(box.width, id).toBeGreaterThan(300);
      expect(box.height, id).toBeGreaterThan(100);
    }
    const labels = await page.locator('#by-district svg text').allTextContents();
    for (const d of new Set(exp().map((e) => e.person.district))) expect(labels.some((l) => l.startsWith(d)), d).toBe(true);
    // The first font of the page's stack resolves to an installed CJK font (fonts-noto-cjk), not a fallback.
    expect(execFileSync('fc-match', ['Noto Sans CJK SC'], { encoding: 'utf8' })).toContain('Noto Sans CJK');
    clean(log);
    await page.close();
  });

  it('fits a laptop screen and an A4 landscape page; screenshot and PDF saved', async () => {
    const { page, log } = await watchedPage(browser, { width: 1366, height: 900 });
    await page.goto(url());
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(1366);
    await page.screenshot({ path: path.join(ARTIFACTS, `summary-${run().asOf}.png`), fullPage: true });
    // A4 landscape minus 12 mm margins is about 1032 CSS pixels wide.
    await page.setViewportSize({ width: 1032, height: 700 });
    await page.emulateMedia({ media: 'print' });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(1032);
    const pdf = await page.pdf({ path: path.join(ARTIFACTS, `summary-${run().asOf}.pdf`), preferCSSPageSize: true, printBackground: true });
    const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page\b/g) ?? []).length;
    expect(pages).toBeGreaterThanOrEqual(2);
    expect(pages).toBeLessThanOrEqual(8);
    clean(log);
    await page.close();
  });
});

describe('index.html in Chromium', () => {
  it('lists every run with its figures and links to each summary', async () => {
    const { page, log } = await watchedPage(browser);
    await page.goto(pathToFileURL(path.join(s.out, 'index.html')).href);
    expect(await page.locator('#runs tbody tr').count()).toBe(s.runs.length);
    for (const r of s.runs) {
      const cells = await cellTexts(page, `#runs tbody tr[data-key="${r.result.runId}"]`);
      const exp = expectedCases(r.periods);
      expect(cells[1]).toBe(r.asOf);
      expect(cells[2]).toBe('succeeded');
      expect(cells[8]).toBe(String(exp.length));
      expect(cells[11]).toBe(yuanGrouped(exp.reduce((sum, e) => sum + e.amountFen, 0)));
      expect(cells[12]).toBe('summary');
    }
    const last = s.runs.at(-1)!;
    expect(await text(page, '#latest-amount b')).toBe(yuanGrouped(expectedCases(last.periods).reduce((sum, e) => sum + e.amountFen, 0)));
    await page.screenshot({ path: path.join(ARTIFACTS, 'index.png'), fullPage: true });
    await page.locator(`#runs tr[data-key="${s.runs[0]!.result.runId}"] a`).click();
    await page.waitForURL(/summary\.html$/);
    expect(await text(page, '#as-of')).toBe(s.runs[0]!.asOf);
    clean(log);
    await page.close();
  });
});
