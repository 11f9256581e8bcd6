/**
 * Debian's Chromium for the browser tests, driven by playwright-core (which
 * downloads no browser of its own). Installed when missing and we run as root
 * (as .ci/run does); otherwise the test fails with the command that installs it.
 */
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const INSTALL = 'apt-get update -qq && apt-get install -y --no-install-recommends chromium';

export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() !== 0)
    throw new Error(
      `the browser tests need Debian's Chromium (${CHROMIUM} is missing); install it as root with:\n  ${INSTALL}`,
    );
  execSync(INSTALL, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (!existsSync(CHROMIUM)) throw new Error(`installing chromium left ${CHROMIUM} missing; run: ${INSTALL}`);
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
