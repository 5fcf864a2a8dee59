// The baseline: what a careful person would script by hand with native git. It keeps a
// bare store between deploys (so later fetches negotiate), archives the tip into a fresh
// release directory, and swaps `current` with a rename, like toes does.
//
// Careful means: no work the deploy does not need. The fetch skips tags, FETCH_HEAD, the
// forced-update walk and the automatic gc/maintenance that may follow a fetch; tar neither
// restores owners, modes nor mtimes (as root it would fchown, fchmod and utimensat each of
// 3,000 files). What is left is the network, git's pack work and the filesystem's cost of
// creating each file, which dominated the old baseline's spread (README, Performance).
// The script marks each stage on stderr (`stage NAME MS`, bash's EPOCHREALTIME: no fork).
import fs from 'node:fs';
import path from 'node:path';
import { runTimed, type Sample } from './measure.js';

const SCRIPT = `#!/usr/bin/env bash
set -euo pipefail
op=$1; shift
t0=$EPOCHREALTIME
mark() { local now=$EPOCHREALTIME; echo "stage $1 $(( (\${now/./} - \${t0/./}) / 1000 ))" >&2; t0=$now; }
git=(git -c gc.auto=0 -c maintenance.auto=false -c fetch.showForcedUpdates=false -c fetch.writeCommitGraph=false)
fetch() { "\${git[@]}" -C "$store" fetch -q --no-tags --no-write-fetch-head --no-auto-gc --no-auto-maintenance "$@" "$url" +main:refs/heads/main; }
swap() { # $1 app dir, $2 release name
  ln -s "$2" "$1/.current-tmp"
  # -T: without it, mv would move the link *into* the directory current points at.
  mv -Tf "$1/.current-tmp" "$1/current"
}
case $op in
  cold) store=$1 url=$2 app=$3 rel=$4
    git init -q --bare "$store"
    # Fetching into a ref (not just FETCH_HEAD) gives the next fetch a "have" to send.
    fetch --depth=1 ;;
  incr) store=$1 url=$2 app=$3 rel=$4
    fetch ;;
  flip) swap "$1" "$2"; mark swap; exit 0 ;;
esac
mark fetch
mkdir -p "$app/$rel"
git -C "$store" archive refs/heads/main | tar -x -m --no-same-owner --no-same-permissions -C "$app/$rel"
mark extract
swap "$app" "$rel"
mark swap
`;

export interface NativeSample extends Sample {
  stages: { name: string; ms: number }[];
}

function stagesOf(stderr: string): { name: string; ms: number }[] {
  return [...stderr.matchAll(/^stage (\S+) (\d+)$/gm)].map((m) => ({ name: m[1], ms: Number(m[2]) }));
}

export class NativeDeployer {
  readonly store: string;
  readonly appDir: string;
  private releases: string[] = [];

  constructor(
    private readonly script: string,
    readonly root: string,
    private readonly url: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.store = path.join(root, 'store');
    this.appDir = path.join(root, 'app');
    fs.mkdirSync(this.appDir, { recursive: true });
  }

  static writeScript(dir: string): string {
    const file = path.join(dir, 'native-deploy.sh');
    fs.writeFileSync(file, SCRIPT, { mode: 0o755 });
    return file;
  }

  private run(args: string[]): Promise<NativeSample> {
    return runTimed('bash', [this.script, ...args], { cwd: this.root, env: this.env }).then((s) => {
      if (s.code !== 0) throw new Error(`native script ${args[0]} failed (${s.code}): ${s.stderr.trim()}`);
      return { ...s, stages: stagesOf(s.stderr) };
    });
  }

  private deploy(op: 'cold' | 'incr'): Promise<NativeSample> {
    const rel = `r${String(this.releases.length + 1).padStart(3, '0')}`;
    this.releases.push(rel);
    return this.run([op, this.store, this.url, this.appDir, rel]);
  }

  cold(): Promise<NativeSample> {
    return this.deploy('cold');
  }

  incremental(): Promise<NativeSample> {
    return this.deploy('incr');
  }

  /** Points current back at the release before the newest. */
  rollback(): Promise<NativeSample> {
    return this.run(['flip', this.appDir, this.releases[this.releases.length - 2]]);
  }

  releaseDir(i: number): string {
    return path.join(this.appDir, this.releases[i]);
  }
}
