// Where a test's DATA_DIR keeps each file, from the same Layout the CLI and daemon use, so
// tests never spell out paths under rev/.
import { Layout, resolveRoots } from '../../src/releases/paths.js';

export function layoutOf(dataDir: string): Layout {
  return new Layout(resolveRoots({}, { DATA_DIR: dataDir }));
}
