// `toes serve` and `toes relay` as real processes on a port that is already taken: each
// says so in one sentence on stderr and exits 2, instead of hanging.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { binDir, cliEnv, cliPath, tmpDir } from '../../fixtures/cli.js';

/** Runs the CLI; a process still running at the deadline is killed and reported as hung. */
function runWithin(dir: string, args: string[], bun: boolean, deadlineMs: number): Promise<{ code: number | null; stderr: string; hung: boolean }> {
  const child = spawn(bun ? path.join(binDir, 'bun') : process.execPath, [cliPath, ...args], { env: cliEnv(dir), cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, deadlineMs);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, hung });
    });
  });
}

for (const runtime of ['node', 'bun'] as const) {
  for (const which of ['serve', 'relay'] as const) {
    test(`${which} on ${runtime} on a port in use: one sentence on stderr, exit 2`, async (t) => {
      const dir = tmpDir('toes-port-');
      t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
      const taken = net.createServer();
      await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
      t.after(() => new Promise<void>((r) => taken.close(() => r())));
      const port = String((taken.address() as net.AddressInfo).port);
      const args = which === 'serve' ? ['serve', '--port', port] : ['relay', '--port', port, '--data', dir];
      const r = await runWithin(dir, args, runtime === 'bun', 20_000);
      assert.equal(r.hung, false, `${which} did not exit; stderr: ${r.stderr}`);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `toes: Port ${port} on 127.0.0.1 is already in use; pick another with --port.\n`);
    });
  }
}
