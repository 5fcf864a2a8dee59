/** One line in `toes --help`, the full text with examples in `toes CMD --help`. */
export function describe(cmd: string, short: string, long: string): string {
  return process.argv.slice(2).includes(cmd) ? `${short}\n\n${long}` : short;
}
