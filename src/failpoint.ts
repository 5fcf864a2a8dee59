// Named pause points for fault-injection tests (kill -9 mid-deploy). Inert unless the
// TOES_REV_FAILPOINT environment variable names one; then the process announces it on
// stderr and waits there until it is killed.
export async function failpoint(name: string): Promise<void> {
  const want = process.env.TOES_REV_FAILPOINT;
  if (!want || want !== name) return;
  process.stderr.write(`failpoint ${name} reached pid=${process.pid}\n`);
  await new Promise(() => setInterval(() => {}, 1 << 30));
}
