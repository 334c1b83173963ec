import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DataPlaneProcess, startDataPlane, until } from './support/data-plane-process.ts';

// The dashboard in a real headless Chromium against the zero-config demo (4 simulated vLLM
// workers publishing over ZMQ on loopback). test/tools/chromium.sh installs the browser.

const CHROMIUM = process.env.KVINDEX_CHROMIUM ?? '/usr/bin/chromium';
const DOCS_SCREENSHOT = fileURLToPath(new URL('../../../docs/images/dashboard.png', import.meta.url));
// The committed screenshot is refreshed on request (or when missing); other runs keep the tree clean.
const SCREENSHOT =
  process.env.KVINDEX_UPDATE_SCREENSHOT === '1' || !existsSync(DOCS_SCREENSHOT)
    ? DOCS_SCREENSHOT
    : join(tmpdir(), `kvindex-dashboard-${process.pid}.png`);

describe('dashboard in headless Chromium', () => {
  let dp: DataPlaneProcess;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run test/tools/chromium.sh`);
    dp = await startDataPlane(['--demo', 'on']);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    expect(await dp?.stop()).toBe(0);
  });

  it('shows the live fleet and where a recent prompt is cached', async () => {
    // Wait for the demo to have filled some caches, so the page has something to show.
    await until('cached blocks on every demo worker', async () => {
      const res = await fetch(`${dp.url}/v1/models`);
      const body = (await res.json()) as {
        models: Array<{ workers: Array<{ blocks: { device: number } }> }>;
      };
      const w = body.models[0]?.workers ?? [];
      return w.length === 4 && w.every((x) => x.blocks.device > 0) ? true : undefined;
    });

    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    await page.goto(`${dp.url}/`);
    await page.waitForSelector('section.model tbody tr');
    const rows = page.locator('section.model tbody tr');
    expect(await rows.count()).toBe(4);
    // Live numbers: the page's cached-block counts agree with the API's, and events flow.
    const pageBlocks = (await page.locator('.model-blocks').first().textContent())!.replace(/,/g, '');
    const api = (await (await fetch(`${dp.url}/v1/models`)).json()) as {
      models: Array<{ blocks: { device: number } }>;
    };
    expect(Number(pageBlocks)).toBeGreaterThan(0);
    expect(Math.abs(Number(pageBlocks) - api.models[0]!.blocks.device)).toBeLessThanOrEqual(
      api.models[0]!.blocks.device * 0.5,
    );
    await until('a non-zero event rate on the page', async () => {
      const rate = Number((await page.locator('.model-rate').first().textContent())!.replace(/,/g, ''));
      return rate > 0 ? rate : undefined;
    });
    for (const status of await page.locator('section.model tbody .badge').allTextContents())
      expect(status).toBe('active');
    const queryRate = Number((await page.locator('#query-rate').textContent())!.replace(/,/g, ''));
    expect(queryRate).toBeGreaterThan(0);

    // Pick a recent (routed) prompt: its prefix must be cached on at least one worker.
    await page.locator('#recent-queries li').first().click();
    await page.waitForSelector('#prefix-result .prefix-row');
    const tokensText = await page.locator('#prefix-result .prefix-tokens').first().textContent();
    const cached = Number(/(\d+) of/.exec(tokensText!)![1]);
    expect(cached).toBeGreaterThan(0);

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  }, 60_000);
});
