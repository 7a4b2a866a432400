#!/usr/bin/env node
// Headless Chromium (playwright-core, from tests/support/oidc/node_modules) playing the user in
// front of the sandbox's identity platform: its sign-in, consent and device-login pages, which
// name themselves in <body data-page="...">.
//
//   node browser.mjs authorize URL [--login U --password P] [--deny] [--capture-redirect]
//   node browser.mjs device URI --code USER_CODE --login U --password P [--deny]
//   node browser.mjs URL      (authorize; options from SANDBOX_TEST_* variables, for $BROWSER)
//
// Environment defaults: SANDBOX_TEST_LOGIN, SANDBOX_TEST_PASSWORD, SANDBOX_TEST_DENY=1,
// SANDBOX_TEST_OUT (write the result there too), SANDBOX_TEST_TIMEOUT (seconds, default 60).
// Prints one JSON object: {"ok", "page", "url", "text", "steps", "error"?}. "page" is the last
// page of the platform seen (error pages included); "url" the redirect target (with
// --capture-redirect, even when nothing listens there). Exit 0 when the flow reached an end the
// caller can judge (the redirect, a device page, an error page), 1 on a failure, 2 on bad usage.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const env = process.env;
const flag = (n) => ['1', 'true', 'yes'].includes((env[n] ?? '').toLowerCase());
let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      login: { type: 'string', default: env.SANDBOX_TEST_LOGIN },
      password: { type: 'string', default: env.SANDBOX_TEST_PASSWORD },
      code: { type: 'string' },
      deny: { type: 'boolean', default: flag('SANDBOX_TEST_DENY') },
      'capture-redirect': { type: 'boolean', default: false },
      timeout: { type: 'string', default: env.SANDBOX_TEST_TIMEOUT ?? '60' },
      out: { type: 'string', default: env.SANDBOX_TEST_OUT },
    },
  });
} catch (e) {
  process.stderr.write(`browser.mjs: ${e.message}\n`);
  process.exit(2);
}
const { values: opt, positionals } = parsed;
if (/^https?:/i.test(positionals[0] ?? '')) positionals.unshift('authorize');
const [command, startUrl] = positionals;
if (!['authorize', 'device'].includes(command) || !startUrl || !URL.canParse(startUrl)) {
  process.stderr.write('usage: browser.mjs authorize|device URL [options]\n');
  process.exit(2);
}
const origin = new URL(startUrl).origin;
const chromiumPath = env.CHROMIUM ?? '/usr/bin/chromium';
const timeoutMs = Number(opt.timeout) * 1000;
const steps = [];
let ctx = null;
let page = null;
let dataDir = null;
let lastPage = null;
let lastRedirect = null;
let done = false;

async function finish(ok, error, extra = {}) {
  if (done) return;
  done = true;
  let text = null;
  let url = null;
  try {
    url = page?.url() ?? null;
    text = page ? await page.evaluate(() => document.body?.innerText ?? '') : null;
  } catch {
    // navigating or closed
  }
  const out = { ok, command, page: lastPage, url, text, steps, ...extra };
  if (error) out.error = error;
  try {
    if (ctx) await ctx.close();
  } catch {
    // gone already
  }
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  const line = `${JSON.stringify(out)}\n`;
  if (opt.out) fs.writeFileSync(opt.out, line);
  process.stdout.write(line);
  if (!ok) process.stderr.write(`browser.mjs: ${error}\n`);
  process.exit(ok ? 0 : 1);
}

setTimeout(() => finish(false, `timeout after ${opt.timeout} s`), timeoutMs).unref();

async function launch() {
  if (!fs.existsSync(chromiumPath)) throw new Error(`Chromium not found at ${chromiumPath}`);
  // playwright-core is installed once, for the OAuth tests' harness.
  const require = createRequire(new URL('../../support/oidc/package.json', import.meta.url));
  const { chromium } = require('playwright-core');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailoauth-sandbox-chromium-'));
  ctx = await chromium.launchPersistentContext(dataDir, {
    executablePath: chromiumPath,
    headless: true,
    // The sandbox's CA is not in Chromium's store; the CLI under test verifies it instead.
    ignoreHTTPSErrors: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    timeout: timeoutMs,
  });
  page = ctx.pages()[0] ?? await ctx.newPage();
  page.setDefaultTimeout(timeoutMs);
  page.on('response', (res) => {
    if (res.frame() !== page.mainFrame() || !res.request().isNavigationRequest()) return;
    const location = res.headers().location;
    if (res.status() >= 300 && res.status() < 400 && location) {
      lastRedirect = new URL(location, res.url()).href;
    }
  });
}

// Clicks and waits for the next document; a navigation that fails (a redirect to a loopback
// port where nothing listens) may never report one, so the wait is bounded.
async function click(selector) {
  const nav = page.waitForEvent('framenavigated', {
    predicate: (f) => f === page.mainFrame(),
    timeout: 10000,
  }).catch(() => {});
  await page.click(selector, { noWaitAfter: true });
  await nav;
  await page.waitForLoadState('domcontentloaded').catch(() => {});
}

async function which() {
  for (;;) {
    try {
      const url = page.url();
      if (url.startsWith('chrome-error://')) return 'neterror';
      if (new URL(url).origin !== origin) return 'elsewhere';
      return await page.evaluate(() => document.body?.dataset.page ?? 'unknown');
    } catch (e) {
      if (!/context was destroyed|navigat/i.test(e.message)) throw e;
      await page.waitForLoadState('domcontentloaded').catch(() => {});
    }
  }
}

async function run() {
  await launch();
  steps.push(`open ${command}`);
  await page.goto(startUrl, { waitUntil: 'domcontentloaded' }).catch((e) => {
    if (!/ERR_|net::/.test(e.message)) throw e;
  });
  let codeEntered = false;
  let unknownSince = null;
  for (;;) {
    const kind = await which();
    if (kind !== 'elsewhere' && kind !== 'neterror' && kind !== 'unknown') lastPage = kind;
    if (kind === 'unknown' || kind === 'form-post') {
      unknownSince ??= Date.now();
      if (Date.now() - unknownSince > 5000) return finish(false, 'stuck on an unknown page');
      await page.waitForTimeout(100);
      continue;
    }
    unknownSince = null;
    switch (kind) {
      case 'signin': {
        const err = await page.$('#usernameError');
        if (err) return finish(true, null, { signin_error: (await err.textContent()).trim() });
        if (!opt.login) return finish(false, 'the sign-in page needs --login');
        steps.push(`sign in as ${opt.login}`);
        await page.fill('input[name="login"]', opt.login);
        await page.fill('input[name="passwd"]', opt.password ?? '');
        await click('#idSIButton9');
        break;
      }
      case 'consent':
        steps.push(opt.deny ? 'cancel at consent' : 'accept at consent');
        await click(opt.deny ? '#idBtn_Back' : '#idSIButton9');
        if (opt.deny) lastPage = 'consent-cancelled';
        break;
      case 'devicelogin': {
        if (command !== 'device') return finish(false, 'device page in an authorize flow');
        const err = await page.$('#otcError');
        if (err) return finish(true, null, { otc_error: (await err.textContent()).trim() });
        if (codeEntered) return finish(false, 'the code page came back');
        if (!opt.code) return finish(false, 'the device page needs --code');
        steps.push(`enter code ${opt.code}`);
        codeEntered = true;
        await page.fill('input[name="otc"]', opt.code);
        await click('#idSIButton9');
        break;
      }
      case 'device-done':
      case 'device-declined':
      case 'error':
        steps.push(`page ${kind}`);
        return finish(true, null);
      case 'neterror':
        if (opt['capture-redirect'] && lastRedirect) {
          steps.push('captured the redirect');
          return finish(true, null, { url: lastRedirect, captured: true });
        }
        return finish(false, `network error after: ${steps.at(-1)}`);
      case 'elsewhere':
        if (opt['capture-redirect']) {
          return finish(true, null, { url: lastRedirect ?? page.url(), captured: true });
        }
        steps.push(`redirected to ${new URL(page.url()).origin}`);
        await page.waitForLoadState('load').catch(() => {});
        await page.waitForLoadState('networkidle', { timeout: 5000 }).catch(() => {});
        return finish(true, null, { redirected: true });
      default:
        return finish(false, `unexpected page ${kind}`);
    }
  }
}

run().catch((e) => finish(false, e.message.split('\n')[0]));
