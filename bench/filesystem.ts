// Which filesystem the bench writes to, and whether its figures stand for a usual machine.
// An ext4 without a journal (this development machine's root) skips, on every inode it
// allocates, the inodes deleted in the last hours (ext4's recently_deleted check, only
// made without a journal): after a test run deleted many files, creating one file or
// folder took 0.3-0.9 ms instead of 30 us. That makes the native script, which creates
// every file, swing between 0.1 and 1.7 s. Raspberry Pi OS, Debian and macOS format with a
// journal, so the README's figures are taken on one (TMPDIR on a journaled mount).
import fs from 'node:fs';

export interface FsInfo {
  mountPoint: string;
  type: string;
  source: string;
  /** major:minor of the mounted device. */
  devNo: string;
  /** ext4 only: whether it has a journal (a jbd2 entry in /proc/fs/jbd2). */
  journal?: boolean;
}

// mountinfo escapes spaces and such as octal.
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function filesystemOf(dir: string): FsInfo | undefined {
  let real: string;
  let lines: string[];
  try {
    real = fs.realpathSync(dir);
    lines = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  } catch {
    return undefined; // not Linux
  }
  let best: FsInfo | undefined;
  for (const line of lines) {
    const [left, right] = line.split(' - ');
    if (!right) continue;
    const fields = left.split(' ');
    const mountPoint = unescape(fields[4]);
    const [type, source] = right.split(' ');
    const under = mountPoint === '/' || real === mountPoint || real.startsWith(`${mountPoint}/`);
    if (under && (!best || mountPoint.length >= best.mountPoint.length)) best = { mountPoint, type, source, devNo: fields[2] };
  }
  if (best?.type === 'ext4') {
    // jbd2 names a journal by the kernel's device name (dm-0, mmcblk0p2), which the mount
    // source may not show (/dev/mapper/vg-root, /dev/root): ask sysfs by device number.
    let dev = best.source.replace(/^\/dev\//, '');
    try {
      dev = /^DEVNAME=(.+)$/m.exec(fs.readFileSync(`/sys/dev/block/${best.devNo}/uevent`, 'utf8'))?.[1] ?? dev;
    } catch {
      // no sysfs: the mount source's name
    }
    dev = dev.replace(/\//g, '!');
    try {
      best.journal = fs.readdirSync('/proc/fs/jbd2').some((n) => n.startsWith(`${dev}-`));
    } catch {
      best.journal = false;
    }
  }
  return best;
}

/** One line for the report: where the bench wrote, and a warning when it misleads. */
export function filesystemNote(dir: string): string {
  const f = filesystemOf(dir);
  if (!f) return `bench files in ${dir}`;
  const where = `bench files in ${dir}: ${f.type} on ${f.source} (mounted at ${f.mountPoint})`;
  if (f.type === 'ext4' && f.journal === false) {
    return `${where}, WITHOUT a journal: creating files right after deletions is erratic there and the native script's times swing; set TMPDIR to a journaled filesystem (README, Performance)`;
  }
  return f.type === 'ext4' ? `${where}, with a journal` : where;
}
