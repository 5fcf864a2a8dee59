// The baseline: what a careful person would script by hand with native git. It keeps a
// bare store between deploys (so later fetches negotiate), archives the tip into a fresh
// release directory, and swaps `current` with a rename, like toes does.
import fs from 'node:fs';
import path from 'node:path';
import { runTimed, type Sample } from './measure.js';

const SCRIPT = `#!/usr/bin/env bash
set -euo pipefail
op=$1; shift
swap() { # $1 app dir, $2 release name
  ln -s "$2" "$1/.current-tmp"
  # -T: without it, mv would move the link *into* the directory current points at.
  mv -Tf "$1/.current-tmp" "$1/current"
}
case $op in
  cold) store=$1 url=$2 app=$3 rel=$4
    git init -q --bare "$store"
    # Fetching into a ref (not just FETCH_HEAD) gives the next fetch a "have" to send.
    git -C "$store" fetch -q --depth=1 "$url" +main:refs/heads/main ;;
  incr) store=$1 url=$2 app=$3 rel=$4
    git -C "$store" fetch -q "$url" +main:refs/heads/main ;;
  flip) swap "$1" "$2"; exit 0 ;;
esac
mkdir -p "$app/$rel"
git -C "$store" archive refs/heads/main | tar -x -C "$app/$rel"
swap "$app" "$rel"
`;

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

  private run(args: string[]): Promise<Sample> {
    return runTimed('bash', [this.script, ...args], { cwd: this.root, env: this.env }).then((s) => {
      if (s.code !== 0) throw new Error(`native script ${args[0]} failed (${s.code}): ${s.stderr.trim()}`);
      return s;
    });
  }

  private deploy(op: 'cold' | 'incr'): Promise<Sample> {
    const rel = `r${String(this.releases.length + 1).padStart(3, '0')}`;
    this.releases.push(rel);
    return this.run([op, this.store, this.url, this.appDir, rel]);
  }

  cold(): Promise<Sample> {
    return this.deploy('cold');
  }

  incremental(): Promise<Sample> {
    return this.deploy('incr');
  }

  /** Points current back at the release before the newest. */
  rollback(): Promise<Sample> {
    return this.run(['flip', this.appDir, this.releases[this.releases.length - 2]]);
  }

  releaseDir(i: number): string {
    return path.join(this.appDir, this.releases[i]);
  }
}
