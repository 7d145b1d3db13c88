/**
 * The live-room page in headless Chromium (Debian's `chromium`, driven by
 * playwright-core): served by the edge, fed through the admin API, used like
 * a viewer would. A screenshot lands in test-artifacts/live-room.png.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { buildBundle } from './build.js';
import { TestRoomcast } from './test-fixture.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));

const skip = existsSync(CHROMIUM)
  ? false
  : `no Chromium at ${CHROMIUM}: .ci/run installs Debian's chromium (apt-get install -y chromium); set CHROMIUM_PATH to use another`;

test(
  'live-room page - shows gifts and host messages, sends chat and likes',
  {
    skip,
  },
  async () => {
    await buildBundle();
    const server = await TestRoomcast.start();
    const profile = await mkdtemp(join(tmpdir(), 'roomcast-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1100, height: 720 },
    });
    try {
      await server.createRoom('stage');
      const token = await server.token('stage', 'vi', { name: 'Vi' });
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') {
          problems.push(message.text());
        }
      });

      await page.goto(`${server.pageUrl}?token=${encodeURIComponent(token)}`);
      await page.locator('#state[data-state="open"]').waitFor();
      assert.equal(
        await page.locator('#room-title').textContent(),
        'Room stage',
      );
      assert.equal(new URL(page.url()).searchParams.get('token'), null);

      await server.publish(
        'stage',
        'host',
        { text: 'Welcome to the stage!' },
        { id: 'host-1', name: 'Host' },
      );
      await server.publish(
        'stage',
        'gift',
        { gift: 'a rocket' },
        { id: 'fan-7', name: 'Mia' },
      );
      const stream = page.getByRole('log');
      await stream.getByText('Welcome to the stage!').waitFor();
      await page.locator('#spotlight').getByText('Mia sent a rocket').waitFor();
      await page
        .locator('#gift-list li', { hasText: 'Mia sent a rocket' })
        .waitFor();

      await page.getByLabel('Message').fill('hello from chromium');
      await page.getByRole('button', { name: 'Send' }).click();
      await stream.getByText('hello from chromium').waitFor();
      assert.equal(await page.getByLabel('Message').inputValue(), '');

      await page.getByRole('button', { name: 'Like' }).click();
      await page.locator('#likes', { hasText: '1' }).waitFor();
      await page.locator('#viewers', { hasText: '1' }).waitFor();

      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'live-room.png') });
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
      await rm(profile, { recursive: true, force: true });
      await server.close();
    }
  },
);
