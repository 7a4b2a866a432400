#!/usr/bin/env node
// Count (or list) entries of the request log written by server.mjs --log FILE.
//
//   node logcount.mjs LOG [--event token] [--grant refresh_token] [--outcome ok|error]
//                         [--error invalid_grant] [--client CLIENT_ID] [--after-seq N] [--list]
//
// --grant accepts the short device grant name "device_code". Defaults: --event token.
// Prints the number of matching entries (or, with --list, the matching JSON lines).

import * as fs from 'node:fs';
import { parseArgs } from 'node:util';

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      event: { type: 'string', default: 'token' },
      grant: { type: 'string' },
      outcome: { type: 'string' },
      error: { type: 'string' },
      client: { type: 'string' },
      'after-seq': { type: 'string', default: '0' },
      list: { type: 'boolean', default: false },
    },
  });
} catch (e) {
  process.stderr.write(`logcount.mjs: ${e.message}\n`);
  process.exit(2);
}
const { values: o, positionals: [file] } = parsed;
if (!file) {
  process.stderr.write('usage: node logcount.mjs LOG [--event E] [--grant G] [--outcome ok|error] [--error E] [--client ID] [--after-seq N] [--list]\n');
  process.exit(2);
}
const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
const after = Number(o['after-seq']);
const hits = lines.map((l) => JSON.parse(l)).filter((e) => e.event === o.event
  && e.seq > after
  && (!o.grant || e.grant_type === o.grant || e.grant_type_raw === o.grant)
  && (!o.outcome || e.outcome === o.outcome)
  && (!o.error || e.error === o.error)
  && (!o.client || e.client_id === o.client));
process.stdout.write(o.list ? hits.map((e) => `${JSON.stringify(e)}\n`).join('') : `${hits.length}\n`);
