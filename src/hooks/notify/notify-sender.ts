// The short-lived sender a command leaves behind when no `toes serve` runs: sends what the
// outbox holds until nothing is due within a minute, then exits. Run as `notify-sender.js`
// with DATA_DIR, APPS_DIR and TOES_DIR set. What it leaves is sent by the next command's
// sender or by `toes serve`.
import { Layout, resolveRoots } from '../../releases/paths.js';
import { Sender } from './sender.js';

// Not a top-level await: the bundle of this file is CommonJS (scripts/bundle.mjs).
void new Sender(new Layout(resolveRoots())).runUntilIdle();
