// One deploy (or a rollback for the settings page), run by `toes serve` in its own
// process: a deploy's memory (packs, trees) is given back when it ends, and a crash in it
// cannot take the receiver down. Takes a WorkerRequest as its one argument and prints the
// operation's OpResult as one JSON line on stdout.
//
// SIGTERM before the swap abandons the deploy (the next start recovers what is left, as
// after any crash); after the swap it is ignored, so the activation finishes: health
// check, and flip back if it fails.
import { deploy } from '../../activate/deploy.js';
import { rollback } from '../../activate/rollback.js';
import { Layout, resolveRoots } from '../../releases/paths.js';
import { readRequest } from './worker-request.js';

const req = readRequest(process.argv[2]);
let activating = false;
const onSignal = () => {
  if (!activating) process.exit(143);
  process.stderr.write(`toes serve: ${req.app}: finishing the activation already begun before stopping\n`);
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

const engine = {
  layout: new Layout(resolveRoots()),
  now: () => new Date(),
  events: {
    onActivating() {
      activating = true;
    },
  },
};

async function run(): Promise<void> {
  const res =
    req.op === 'rollback'
      ? // A few seconds, not none: the collection after a deploy holds the app's lock briefly
        // (it compacts the app's object log), and a click then must not be told "busy".
        await rollback(engine, { app: req.app, to: req.to, trigger: req.trigger, waitMs: 5_000 })
      : await deploy(engine, { app: req.app, trigger: req.trigger, waitMs: 30 * 60_000 });
  process.stdout.write(JSON.stringify(res) + '\n');
  process.exitCode = res.ok ? 0 : 1;
}

// Not a top-level await: the bundle of this file is CommonJS (scripts/bundle.mjs). A throw
// still ends the process with an error, as an unhandled rejection.
void run();
