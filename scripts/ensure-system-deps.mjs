#!/usr/bin/env node
// Runs before `npm test`: the relay cluster's tests need Debian's nats-server and HAProxy,
// the build sandbox's tests bubblewrap. When any is missing and this is root on a machine with apt-get, it installs them
// (non-interactive); otherwise it stops with the command that would, so a fresh machine
// gets a clear next step instead of a test failing halfway through.
import { spawnSync } from 'node:child_process';

const needed = [
  { bin: 'nats-server', pkg: 'nats-server' },
  { bin: 'haproxy', pkg: 'haproxy' },
  { bin: 'bwrap', pkg: 'bubblewrap' },
];

const has = (bin) => spawnSync('sh', ['-c', 'command -v "$0" || test -x "/usr/sbin/$0"', bin], { stdio: 'ignore' }).status === 0;

const missing = needed.filter((n) => !has(n.bin));
if (missing.length === 0) process.exit(0);

const pkgs = missing.map((n) => n.pkg);
const root = typeof process.getuid === 'function' && process.getuid() === 0;
if (!root || !has('apt-get')) {
  console.error(
    `The tests need ${pkgs.join(' and ')} (Debian packages). Install them, then run the tests again:\n` +
      `  sudo apt-get install -y ${pkgs.join(' ')}\n` +
      (has('apt-get') ? '' : '(no apt-get here: install them with this system\'s package manager; nats-server 2.9 or later)\n'),
  );
  process.exit(1);
}

const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const run = (args) => {
  console.error(`ensure-system-deps: apt-get ${args.join(' ')}`);
  const r = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env });
  if (r.status !== 0) {
    console.error(`apt-get ${args[0]} failed (exit ${r.status}); install ${pkgs.join(' ')} by hand, then run the tests again.`);
    process.exit(1);
  }
};
run(['update', '-qq']);
run(['install', '-y', '-qq', '--no-install-recommends', ...pkgs]);
const still = missing.filter((n) => !has(n.bin));
if (still.length > 0) {
  console.error(`Installed ${pkgs.join(' ')}, but ${still.map((n) => n.bin).join(' and ')} is still not on PATH.`);
  process.exit(1);
}
