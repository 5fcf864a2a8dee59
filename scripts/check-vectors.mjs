#!/usr/bin/env node
// `node scripts/check-vectors.mjs DIR`: checks toes-rev's Standard Webhooks signer (deploy
// events) and its receiver against the published vectors in DIR/standard-webhooks.json
// (the vectors belong to their projects and are not in this repository; the tests cover the
// same cases with payloads written here). Run after `npm run build`. Exits 1 on a mismatch.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node scripts/check-vectors.mjs DIR   (DIR holds standard-webhooks.json)');
  process.exit(2);
}
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { signedRequest } = await import(path.join(root, 'dist/src/hooks/notify/events.js'));
const { verifyWebhook } = await import(path.join(root, 'dist/src/hooks/serve/verify.js'));
const { vectors } = JSON.parse(fs.readFileSync(path.join(dir, 'standard-webhooks.json'), 'utf8'));

let signed = 0;
let verified = 0;
const wrong = [];
for (const v of vectors) {
  const sig = v.headers?.['webhook-signature'];
  if (v.informational || v.derived || v.signWithKey || !sig) continue;
  const body = Buffer.from(v.payload);
  if (v.expect === 'accept' && sig.startsWith('v1,') && !sig.includes(' ')) {
    const got = signedRequest('https://x.example/', v.headers['webhook-id'], v.payload, v.secret, Number(v.headers['webhook-timestamp'])).headers['webhook-signature'];
    if (got === sig) signed++;
    else wrong.push(`sign: ${v.name}: got ${got}, want ${sig}`);
  }
  if (v.expect === 'accept' || v.expect === 'reject') {
    const r = verifyWebhook(v.headers, body, v.secret, v.now ?? Number(v.headers['webhook-timestamp']));
    if (r.ok === (v.expect === 'accept')) verified++;
    else wrong.push(`verify: ${v.name}: expected ${v.expect}, got ${r.ok ? 'accept' : `reject (${r.reason})`}`);
  }
}
for (const w of wrong) console.error(w);
console.log(`${signed} signatures made as the vectors say, ${verified} vectors verified as they expect, ${wrong.length} wrong`);
process.exit(wrong.length ? 1 : 0);
