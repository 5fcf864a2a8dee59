// A long-running program (`toes serve`, `toes relay`) starts as a list of named parts, each
// handing back how to undo it; stopping undoes them newest first, and a part that fails to
// start undoes the ones before it. The start function then reads as the list, like a
// deploy's stages, and no part can be forgotten at shutdown.
export type Undo = () => unknown;

export interface Started<T> {
  value: T;
  undo?: Undo;
}

export class Assembly {
  private started: { name: string; undo: Undo }[] = [];

  /** Starts a part; its undo runs at `undo()`. */
  async add<T>(name: string, start: () => Started<T> | Promise<Started<T>>): Promise<T> {
    const { value, undo } = await start();
    if (undo) this.started.push({ name, undo });
    return value;
  }

  /** Undoes every started part, newest first; one that fails does not keep the rest running. */
  async undo(): Promise<void> {
    for (const { undo } of this.started.splice(0).reverse()) {
      try {
        await undo();
      } catch {
        // shutting down: what failed to close is gone with the process
      }
    }
  }
}
