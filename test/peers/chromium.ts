/**
 * Debian's Chromium for the browser tests, driven by playwright-core (which
 * downloads no browser of its own). Installed by test/peers/install.sh when
 * missing and we run as root (as .ci/run does); otherwise the test fails with the
 * command that installs it.
 */
import { chromium, type Browser } from 'playwright-core';
import { requirePeer } from './require.js';

export const CHROMIUM = '/usr/bin/chromium';

export function ensureChromium(): void {
  requirePeer('chromium');
}

/** Headless Chromium as the issue asks: no sandbox (we run as root), no GPU, no background traffic. */
export function launchChromium(): Promise<Browser> {
  ensureChromium();
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 60_000,
  });
}
