// The per-app lock: an atomic mkdir holding a note of its owner. Deploys and rollbacks of
// one app are serial across the CLI and the daemon. A lock whose owner died on this host
// is taken over automatically; a live owner is waited for, or named in the error.
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RevError } from '../errors.js';
import { randomHex } from '../fetch/hash.js';

export interface LockOwner {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
  token: string;
  /** Linux: the boot and the process's start time, so a pid reused after a reboot or
   * by another process does not keep a dead owner's lock forever. */
  boot?: string;
  procStart?: string;
}

function bootId(): string | undefined {
  try {
    return fsSync.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

function procStart(pid: number): string | undefined {
  try {
    const stat = fsSync.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counts from after the command name, which may hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export interface Lock {
  owner: LockOwner;
  release(): Promise<void>;
  /** Throws if the lock was taken away (only possible if it was wrongly judged stale). */
  verify(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(dir: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, 'owner.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/** This process as an owner note, for a lock or any marker that must outlive no one. */
export function ownerNote(command: string): LockOwner {
  return {
    pid: process.pid,
    host: os.hostname(),
    command,
    startedAt: new Date().toISOString(),
    token: randomHex(8),
    boot: bootId(),
    procStart: procStart(process.pid),
  };
}

/**
 * Whether the process a note names is gone: it ran on this host and has exited, or its pid
 * now belongs to another process, or it ran before the last boot. Another host's owner is
 * never judged gone (we cannot see its processes).
 */
export function ownerGone(owner: LockOwner): boolean {
  if (owner.host !== os.hostname()) return false;
  const boot = bootId();
  if (owner.boot && boot && owner.boot !== boot) return true;
  if (!alive(owner.pid)) return true;
  const start = procStart(owner.pid);
  return !!owner.procStart && !!start && start !== owner.procStart;
}

/** A lock is stale when its owner on this host is gone, or it never got an owner note. */
async function isStale(dir: string, owner: LockOwner | undefined): Promise<boolean> {
  if (owner) return ownerGone(owner);
  try {
    const st = await fs.stat(dir);
    return Date.now() - st.mtimeMs > 5_000; // the owner died between mkdir and writing its note
  } catch {
    return false;
  }
}

export function describeOwner(o: LockOwner | undefined): string {
  return o ? `${o.command} (pid ${o.pid} on ${o.host}, since ${o.startedAt})` : 'another process';
}

/** Who holds the lock, or undefined when nobody does: free, or left by a process that is gone (its pid may now be another's). */
export async function lockHolder(dir: string): Promise<LockOwner | undefined> {
  const owner = await readOwner(dir);
  return owner && !(await isStale(dir, owner)) ? owner : undefined;
}

export interface AcquireOptions {
  command: string;
  /** How long to wait for a live owner, in ms; 0 fails at once. */
  waitMs: number;
  onWait?: (holder: string) => void;
}

export async function acquireLock(dir: string, opts: AcquireOptions): Promise<Lock> {
  await fs.mkdir(path.dirname(dir), { recursive: true });
  const owner = ownerNote(opts.command);
  const deadline = Date.now() + opts.waitMs;
  let told = false;
  for (;;) {
    let made = false;
    try {
      await fs.mkdir(dir);
      made = true;
      // Whole when named, but not fsynced (unlike every state file, see durable.ts): a note
      // lives as long as its process, and after a power cut its boot id marks it stale anyway.
      const tmp = path.join(dir, `owner.json.${owner.token}`);
      await fs.writeFile(tmp, JSON.stringify(owner));
      await fs.rename(tmp, path.join(dir, 'owner.json'));
      break;
    } catch (err) {
      // A note that could not be written (a full disk): the lock made for it goes too, or the
      // next command would find a lock without an owner and wait for it to go stale.
      if (made) await fs.rm(dir, { recursive: true, force: true }).catch(() => {});
      if (made || (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readOwner(dir);
    if (await isStale(dir, holder)) {
      // Move it aside first: of two processes recovering at once, only one rename succeeds.
      const aside = `${dir}.stale-${randomHex(4)}`;
      try {
        await fs.rename(dir, aside);
        const moved = await readOwner(aside);
        if (moved?.token !== holder?.token) {
          // Another process recovered it first and holds a fresh lock: hand it back.
          await fs.rename(aside, dir).catch(() => {});
        }
        await fs.rm(aside, { recursive: true, force: true });
      } catch {}
      continue;
    }
    if (Date.now() >= deadline) {
      throw new RevError('LOCKED', `The app is busy: ${describeOwner(holder)} holds its lock; wait for it to finish or pass --wait SECONDS.`, {
        data: { holder },
      });
    }
    if (!told) {
      opts.onWait?.(describeOwner(holder));
      told = true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    owner,
    async release() {
      const current = await readOwner(dir);
      if (current?.token === owner.token) await fs.rm(dir, { recursive: true, force: true });
    },
    async verify() {
      const current = await readOwner(dir);
      if (current?.token !== owner.token) {
        throw new RevError('LOCKED', `Lost the app's lock to ${describeOwner(current)}; nothing was swapped. Deploy again.`);
      }
    },
  };
}
