#!/usr/bin/env node
// A recording pass-through in front of the test authorization server, for the no-leak test: it
// learns the secrets mailoauth sends and receives (code, code_verifier, device_code,
// refresh_token, client_secret; access, refresh and id tokens), which the test then looks for
// in mailoauth's output. Tests only.
//
//   node capture_proxy.mjs TARGET_ORIGIN OUT_FILE
// Listens on a free 127.0.0.1 port and prints {"port":N}. Each request becomes one JSON line in
// OUT_FILE: {"method","path","status","request":{form fields},"response":{JSON body or {}}}.
import * as fs from 'node:fs';
import * as http from 'node:http';

const [target, out] = process.argv.slice(2);
if (!target || !out) {
  process.stderr.write('usage: capture_proxy.mjs TARGET_ORIGIN OUT_FILE\n');
  process.exit(2);
}

const server = http.createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const headers = {};
    for (const h of ['content-type', 'authorization', 'accept', 'client-request-id']) {
      if (req.headers[h]) headers[h] = req.headers[h];
    }
    const upstream = await fetch(target + req.url, {
      method: req.method,
      headers,
      body: body.length ? body : undefined,
      redirect: 'manual',
    });
    const text = Buffer.from(await upstream.arrayBuffer());
    let response = {};
    try {
      response = JSON.parse(text.toString('utf8'));
    } catch {
      // not JSON
    }
    fs.appendFileSync(out, `${JSON.stringify({
      method: req.method,
      path: req.url,
      status: upstream.status,
      request: Object.fromEntries(new URLSearchParams(body.toString('utf8'))),
      authorization: req.headers.authorization ?? null,
      response,
    })}\n`);
    const back = { 'content-type': upstream.headers.get('content-type') ?? 'application/json' };
    if (upstream.headers.get('retry-after')) back['retry-after'] = upstream.headers.get('retry-after');
    res.writeHead(upstream.status, back);
    res.end(text);
  } catch (e) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(String(e));
  }
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
