/**
 * Several sorted streams merged into one sorted stream, reading each only as far as the
 * merge needs (a run's partition keys, each listed in sort-key order, make its steps and
 * events in order). All sources are asked for their first item at once, so the first page
 * of every partition is read in parallel.
 */
export async function* mergeSorted<T>(
  sources: readonly AsyncIterator<T>[] | readonly AsyncIterable<T>[],
  keyOf: (item: T) => string,
): AsyncGenerator<T> {
  const iterators = sources.map((source) =>
    Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source,
  );
  const heads = await Promise.all(iterators.map((iterator) => iterator.next()));
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const head = heads[i];
      if (!head || head.done) continue;
      const current = heads[best];
      if (best < 0 || (current && !current.done && compareKeys(keyOf(head.value), keyOf(current.value)) < 0))
        best = i;
    }
    if (best < 0) return;
    const chosen = heads[best] as IteratorYieldResult<T>;
    yield chosen.value;
    heads[best] = await (iterators[best] as AsyncIterator<T>).next();
  }
}

/** DynamoDB orders sort keys by their UTF-8 bytes, which is not JavaScript's string order. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
