/**
 * aws-local-stepfunctions 3 calls Promise.withResolvers (Node 22+) in every Task
 * state; on Node 20 that TypeError would fail the task. Import this module
 * before the library. The suite, the demo and Lambda run Node 22, where this does nothing;
 * it stays for the CLI run by hand on a shell's Node 20 (engines.node >=20.19), whose
 * one-shot runs start the embedded stack in the CLI's process.
 */
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}
