#!/usr/bin/env node
// The `toes` command. Subcommands load lazily so `toes --help` stays fast.
import module from 'node:module';
import { runToes, toesCommand } from './root.js';

// Node 22.1+ can keep compiled code on disk: every command's own modules load after this
// line. Node 20 has no such cache, and Bun keeps its own.
if (!process.versions.bun) (module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

void runToes(
  toesCommand({
    deploy: () => import('./commands/deploy.js').then((m) => m.default),
    rollback: () => import('./commands/rollback.js').then((m) => m.default),
    releases: () => import('./commands/releases.js').then((m) => m.default),
    gc: () => import('./commands/gc.js').then((m) => m.default),
    env: () => import('./commands/env.js').then((m) => m.default),
    config: () => import('./commands/config.js').then((m) => m.default),
    webhook: () => import('./commands/webhook.js').then((m) => m.default),
    serve: () => import('./commands/serve.js').then((m) => m.default),
    page: () => import('./commands/page.js').then((m) => m.default),
    relay: () => import('./commands/relay.js').then((m) => m.default),
    notify: () => import('./commands/notify.js').then((m) => m.default),
  }),
);
