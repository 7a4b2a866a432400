#!/usr/bin/env node
// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, playing the user
// in front of the test authorization server (server.mjs, oidc-provider's dev login/consent pages).
//
//   node browser.mjs authorize URL --login NAME [--password P] [--deny] [--expect-text TEXT]
//                                  [--capture-redirect]
//   node browser.mjs device URI [--code USER_CODE] --login NAME [--password P] [--deny]
//   node browser.mjs URL            (= authorize URL; options from the environment, see below)
//
// Options: --timeout SECONDS (default 30), --chromium PATH (default $CHROMIUM or
// /usr/bin/chromium), --out FILE (write the JSON result there too), --verbose (steps on stderr).
// --capture-redirect: succeed as soon as the authorization server redirects away from itself and
// report that Location (with any #fragment) as "url", even if nothing listens there (the paste
// flow). Chromium still tries the target; a refused connection is expected then.
//
// Environment defaults, so that the script can serve directly as $BROWSER for `mailoauth login`:
// OIDC_TEST_LOGIN (--login), OIDC_TEST_PASSWORD, OIDC_TEST_DENY=1 (--deny),
// OIDC_TEST_CAPTURE_REDIRECT=1 (--capture-redirect), OIDC_TEST_BROWSER_OUT (--out),
// OIDC_TEST_TIMEOUT (--timeout).
//
// Prints one JSON object on stdout: {"ok":true|false, "command", "url", "status", "text",
// "steps":[...], "denied"?, "attempted_url"?, "error"?}. Exit status 0 when the flow reached its
// end (authorize: the redirect target answered, or was captured; device: the success page, or
// the denial page with --deny), 1 on any failure or timeout, 2 on bad usage.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const USAGE = `usage:
  node browser.mjs authorize URL --login NAME [--password P] [--deny] [--expect-text TEXT] [--capture-redirect]
  node browser.mjs device URI [--code USER_CODE] --login NAME [--password P] [--deny]
  node browser.mjs URL          (authorize; options from OIDC_TEST_* environment variables)
options: --timeout SECONDS (30)  --out FILE  --chromium PATH  --verbose`;

const env = process.env;
const envFlag = (name) => ['1', 'true', 'yes'].includes((env[name] ?? '').toLowerCase());

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      login: { type: 'string', default: env.OIDC_TEST_LOGIN },
      password: { type: 'string', default: env.OIDC_TEST_PASSWORD ?? 'any-password' },
      code: { type: 'string' },
      deny: { type: 'boolean', default: envFlag('OIDC_TEST_DENY') },
      'capture-redirect': { type: 'boolean', default: envFlag('OIDC_TEST_CAPTURE_REDIRECT') },
      'expect-text': { type: 'string' },
      timeout: { type: 'string', default: env.OIDC_TEST_TIMEOUT ?? '30' },
      out: { type: 'string', default: env.OIDC_TEST_BROWSER_OUT },
      chromium: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
} catch (e) {
  process.stderr.write(`browser.mjs: ${e.message}\n${USAGE}\n`);
  process.exit(2);
}
const { values: opt, positionals } = parsed;
if (opt.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (/^https?:/i.test(positionals[0] ?? '')) positionals.unshift('authorize');
const [command, startUrl] = positionals;
function usage(msg) {
  process.stderr.write(`browser.mjs: ${msg}\n${USAGE}\n`);
  process.exit(2);
}
if (!['authorize', 'device'].includes(command)) usage('first argument must be authorize, device or a URL');
if (!startUrl || !URL.canParse(startUrl)) usage('second argument must be an absolute URL');
if (!opt.login) usage('--login NAME (or OIDC_TEST_LOGIN) is required');
const timeoutMs = Number(opt.timeout) * 1000;
if (!(timeoutMs > 0)) usage('--timeout needs a positive number of seconds');

const chromiumPath = opt.chromium ?? process.env.CHROMIUM ?? '/usr/bin/chromium';
const opOrigin = new URL(startUrl).origin; // the authorization server's pages live here
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const t0 = Date.now();
const steps = [];
function step(s) {
  steps.push(s);
  if (opt.verbose) process.stderr.write(`browser.mjs: +${Date.now() - t0} ms ${s}\n`);
}

let browserCtx = null;
let userDataDir = null;
let finished = false;
let page = null;
let lastStatus = null;
let lastNavUrl = null; // the last main-frame navigation the browser attempted
let lastRedirect = null; // the Location of the last main-frame redirect

async function pageSnapshot() {
  if (!page) return { url: null, text: null };
  let text = null;
  try {
    text = await page.evaluate(() => document.body?.innerText ?? '');
  } catch {
    // page closed or navigating
  }
  return { url: page.url(), text };
}

async function cleanup() {
  try {
    if (browserCtx) await browserCtx.close();
  } catch {
    // already gone
  }
  if (userDataDir) {
    try {
      fs.rmSync(userDataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    } catch (e) {
      process.stderr.write(`browser.mjs: could not remove ${userDataDir}: ${e.message}\n`);
    }
  }
}

async function finish(ok, error, extra = {}) {
  if (finished) return;
  finished = true;
  const snap = await pageSnapshot();
  const out = {
    ok, command, url: snap.url, status: lastStatus, text: snap.text, steps, ...extra,
  };
  if (snap.url?.startsWith('chrome-error://')) out.attempted_url = lastRedirect ?? lastNavUrl;
  if (error) out.error = error;
  await cleanup();
  const line = `${JSON.stringify(out)}\n`;
  if (opt.out) {
    try {
      fs.writeFileSync(opt.out, line);
    } catch (e) {
      process.stderr.write(`browser.mjs: cannot write ${opt.out}: ${e.message}\n`);
    }
  }
  process.stdout.write(line);
  if (!ok) process.stderr.write(`browser.mjs: ${error}\n`);
  process.exit(ok ? 0 : 1);
}

const deadline = Date.now() + timeoutMs;
const timer = setTimeout(() => {
  finish(false, `timeout after ${opt.timeout} s (last step: ${steps.at(-1) ?? 'none'})`);
}, timeoutMs);
timer.unref();
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => finish(false, `killed by ${sig}`));

function remaining() {
  return Math.max(1, deadline - Date.now());
}

// ---------------------------------------------------------------------------------------------

async function launch() {
  if (!fs.existsSync(chromiumPath)) {
    throw new Error(`Chromium not found at ${chromiumPath} (apt-get install -y --no-install-recommends chromium)`);
  }
  const { chromium } = await import('playwright-core');
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailoauth-chromium-'));
  browserCtx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    timeout: remaining(),
  });
  // Only loopback is reachable here: abort everything else (the dev pages @import web fonts).
  await browserCtx.route('**/*', (route) => {
    const u = URL.parse(route.request().url());
    if (u && (u.protocol === 'http:' || u.protocol === 'https:') && !LOCAL_HOSTS.has(u.hostname)) {
      return route.abort();
    }
    return route.continue();
  });
  page = browserCtx.pages()[0] ?? await browserCtx.newPage();
  page.setDefaultTimeout(remaining());
  page.on('request', (req) => {
    if (req.frame() === page.mainFrame() && req.isNavigationRequest()) lastNavUrl = req.url();
  });
  page.on('response', (res) => {
    if (res.frame() !== page.mainFrame() || !res.request().isNavigationRequest()) return;
    lastStatus = res.status();
    const location = res.headers().location;
    if (res.status() >= 300 && res.status() < 400 && location) {
      lastRedirect = new URL(location, res.url()).href; // keeps a #fragment, unlike request URLs
    }
  });
}

// Run an action that makes the main frame navigate; resolve once the new document is parsed.
async function navigating(action) {
  const nav = page.waitForEvent('framenavigated', {
    predicate: (f) => f === page.mainFrame(),
    timeout: remaining(),
  });
  await action();
  await nav;
  await page.waitForLoadState('domcontentloaded', { timeout: remaining() });
}

// Classify the page the browser shows now (retrying while a navigation replaces the document).
async function classify() {
  for (;;) {
    try {
      return await classifyOnce();
    } catch (e) {
      if (!/context was destroyed|navigat/i.test(e.message)) throw e;
      await page.waitForLoadState('domcontentloaded', { timeout: remaining() }).catch(() => {});
    }
  }
}

async function classifyOnce() {
  const url = page.url();
  if (url.startsWith('chrome-error://')) return 'neterror';
  if (url === 'about:blank') return 'blank';
  if (new URL(url).origin !== opOrigin) return 'elsewhere';
  return page.evaluate(() => {
    const q = (s) => document.querySelector(s);
    if (q('input[name="login"]') && q('input[name="password"]')) return 'login';
    if (q('input[name="prompt"][value="consent"]')) return 'consent';
    if (q('form[id="op.deviceConfirmForm"]')) return 'device-confirm';
    if (q('form[id="op.deviceInputForm"]')) {
      return q('p.red') ? 'device-input-error' : 'device-input';
    }
    const title = document.title || '';
    if (/Sign-in Success/i.test(title)) return 'device-success';
    if (/oops! something went wrong/i.test(document.body?.innerText ?? '')) return 'op-error';
    if (document.forms.length === 1 && document.forms[0].method.toLowerCase() === 'post'
        && !document.forms[0].querySelector('button, input[type=submit]')) return 'autopost';
    return 'unknown';
  });
}

async function settleElsewhere() {
  await page.waitForLoadState('load', { timeout: remaining() }).catch(() => {});
  await page.waitForLoadState('networkidle', { timeout: Math.min(5000, remaining()) }).catch(() => {});
  if (opt['expect-text']) {
    step(`wait for text ${JSON.stringify(opt['expect-text'])}`);
    await page.waitForFunction(
      (t) => (document.body?.innerText ?? '').includes(t),
      opt['expect-text'],
      { timeout: remaining() },
    );
  }
}

async function run() {
  await launch();
  step(`open ${startUrl}`);
  await page.goto(startUrl, { waitUntil: 'domcontentloaded', timeout: remaining() })
    .catch((e) => { if (!/ERR_|net::/.test(e.message)) throw e; });

  let denied = false;
  let codeEntered = false;
  let waitingSince = null; // how long the page has been one we only wait on
  for (;;) {
    const kind = await classify();
    if (kind === 'autopost' || kind === 'unknown') {
      waitingSince ??= Date.now();
      if (kind === 'unknown' && Date.now() - waitingSince > 3000) {
        return finish(false, 'the browser is stuck on a page it does not recognise');
      }
      await page.waitForTimeout(100);
      continue;
    }
    waitingSince = null;
    switch (kind) {
      case 'neterror': {
        if (opt['capture-redirect'] && lastRedirect && new URL(lastRedirect).origin !== opOrigin) {
          step(`captured redirect to ${lastRedirect}`);
          return finish(true, null, { url: lastRedirect, captured: true, ...(denied ? { denied: true } : {}) });
        }
        const { text } = await pageSnapshot();
        const code = text?.match(/ERR_[A-Z_]+/)?.[0] ?? 'network error';
        return finish(false, `the browser could not load the next page (${code}) after: ${steps.at(-1)}`);
      }
      case 'blank':
        return finish(false, 'the browser shows a blank page');
      case 'login':
        step(`login as ${opt.login}`);
        await page.fill('input[name="login"]', opt.login);
        await page.fill('input[name="password"]', opt.password);
        await navigating(() => page.click('button[type="submit"]'));
        break;
      case 'consent':
        if (opt.deny) {
          step('deny at consent ([ Cancel ])');
          denied = true;
          await navigating(() => page.click('a:has-text("[ Cancel ]")'));
        } else {
          step('consent (Continue)');
          await navigating(() => page.click('button[type="submit"]'));
        }
        break;
      case 'device-input': {
        if (command !== 'device') return finish(false, 'unexpected device code page in an authorize flow');
        if (codeEntered && denied) {
          return finish(true, null, { denied: true });
        }
        const prefilled = await page.inputValue('input[name="user_code"]');
        if (codeEntered) return finish(false, 'the device code page came back after the code was entered');
        if (!opt.code && !prefilled) return finish(false, 'the page asks for the user code: give --code USER_CODE');
        if (opt.code) await page.fill('input[name="user_code"]', opt.code);
        step(`enter user code ${opt.code ?? prefilled}`);
        codeEntered = true;
        await navigating(() => page.click('button[form="op.deviceInputForm"]'));
        break;
      }
      case 'device-input-error': {
        const msg = await page.textContent('p.red');
        if (denied && /interrupted/i.test(msg ?? '')) return finish(true, null, { denied: true });
        return finish(false, `the device page says: ${msg?.trim()}`);
      }
      case 'device-confirm':
        codeEntered = true;
        step('confirm device (Continue)');
        await navigating(() => page.click('button[autofocus][form="op.deviceConfirmForm"]'));
        break;
      case 'device-success':
        if (command !== 'device') return finish(false, 'unexpected device success page in an authorize flow');
        if (opt.deny) return finish(false, 'device flow succeeded although --deny was given');
        step('device sign-in success page');
        return finish(true, null);
      case 'op-error':
        if (denied && command === 'device') return finish(true, null, { denied: true });
        return finish(false, 'the authorization server shows an error page');
      case 'elsewhere':
        if (command === 'device') return finish(false, `the device flow left the authorization server for ${page.url()}`);
        if (opt['capture-redirect']) {
          const url = lastRedirect && new URL(lastRedirect).origin !== opOrigin ? lastRedirect : page.url();
          step(`captured redirect to ${url}`);
          return finish(true, null, { url, captured: true, ...(denied ? { denied: true } : {}) });
        }
        step(`redirected to ${page.url()}`);
        await settleElsewhere();
        return finish(true, null, denied ? { denied: true } : {});
      default:
        return finish(false, 'the browser is stuck on a page it does not recognise');
    }
  }
}

run().catch((e) => finish(false, e.message.split('\n')[0]));
