#!/usr/bin/env node
// A user without a browser, for the tests' SETUP only: signs in through the test authorization
// server's login and consent pages (oidc-provider's devInteractions, tests/support/oidc) with
// plain HTTP requests, then delivers the redirect to mailoauth's loopback listener. It takes a
// fraction of a second where Chromium takes 5-15 s, so tests that merely need a signed-in
// account (refresh, concurrency, errors, accounts) use it. The flows themselves (browser, paste,
// implicit, device) are tested with the real browser, tests/support/oidc/browser.mjs.
//
//   node http_user.mjs URL        ($BROWSER for `mailoauth login --flow browser|implicit`)
//
// Environment: HTTP_USER_LOGIN (default alice@example.test), HTTP_USER_OUT (a file that gets one
// JSON line: {"ok", "redirect", "status", "error"}), HTTP_USER_CAPTURE=1 (only print the redirect
// URL on stdout, do not deliver it: the paste flow), HTTP_USER_DENY=1 (Cancel on the consent
// page: the redirect then carries error=access_denied).
import * as fs from 'node:fs';

const start = process.argv[2];
const login = process.env.HTTP_USER_LOGIN || 'alice@example.test';
const out = process.env.HTTP_USER_OUT;
const capture = ['1', 'true'].includes(process.env.HTTP_USER_CAPTURE ?? '');
const deny = ['1', 'true'].includes(process.env.HTTP_USER_DENY ?? '');

function finish(result) {
  const line = `${JSON.stringify(result)}\n`;
  if (out) fs.writeFileSync(out, line);
  if (capture && result.ok) process.stdout.write(`${result.redirect}\n`);
  else process.stderr.write(line);
  process.exit(result.ok ? 0 : 1);
}

if (!start || !URL.canParse(start)) finish({ ok: false, error: 'usage: http_user.mjs URL' });
const origin = new URL(start).origin;
const cookies = new Map();

function remember(res) {
  for (const c of res.headers.getSetCookie?.() ?? []) {
    const [pair] = c.split(';');
    const eq = pair.indexOf('=');
    cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
}

async function request(url, body) {
  const headers = { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  const init = { redirect: 'manual', headers };
  if (body) {
    init.method = 'POST';
    headers['content-type'] = 'application/x-www-form-urlencoded';
    init.body = new URLSearchParams(body).toString();
  }
  const res = await fetch(url, init);
  remember(res);
  return res;
}

// Delivers the redirect as a browser would: a GET of the URL without its fragment; for the
// implicit grant (token in the fragment) mailoauth answers with a page whose script POSTs the
// fragment back, which is done here directly.
async function deliver(redirect) {
  const u = new URL(redirect);
  const fragment = u.hash.slice(1);
  u.hash = '';
  let res = await fetch(u, { redirect: 'manual' });
  let text = await res.text();
  if (fragment && res.status === 200) {
    res = await fetch(u, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: fragment,
    });
    text = await res.text();
  }
  return { status: res.status, text };
}

try {
  let url = start;
  let body = null;
  for (let step = 0; step < 20; step += 1) {
    const res = await request(url, body);
    body = null;
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location'), url).href;
      if (new URL(next).origin !== origin) {
        if (capture) finish({ ok: true, redirect: next });
        const delivered = await deliver(next);
        finish({ ok: delivered.status === 200, redirect: next, ...delivered });
      }
      url = next;
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1];
    if (res.status !== 200 || !action || !prompt) {
      finish({ ok: false, status: res.status, error: 'unexpected page', page: html.slice(0, 2000) });
    }
    if (deny && prompt === 'consent') {
      const cancel = /<a href="([^"]+)">\[ Cancel \]<\/a>/.exec(html)?.[1];
      if (!cancel) finish({ ok: false, error: 'no Cancel link on the consent page' });
      url = new URL(cancel.replace(/&amp;/g, '&'), url).href;
      continue;
    }
    url = new URL(action.replace(/&amp;/g, '&'), url).href;
    body = prompt === 'login' ? { prompt, login, password: 'any-password' } : { prompt };
  }
  finish({ ok: false, error: 'too many steps' });
} catch (e) {
  finish({ ok: false, error: String(e?.stack ?? e) });
}
