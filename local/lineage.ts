import { createHash, randomBytes } from 'node:crypto';

/**
 * Lambda's recursive loop detection, as the embedded stack models it.
 *
 * On AWS the count travels in the X-Ray trace header: Lambda gives each invocation a trace
 * header whose `Lineage` field counts, per function, how many times the chain of requests
 * has invoked it; the AWS SDK sends the invocation's header with every request it makes
 * (X-Amzn-Trace-Id), SQS keeps it with each message it sends as the AWSTraceHeader system
 * attribute, and the SQS event source reads it back when the message invokes a function.
 * When a message would invoke a function more than {@link RECURSION_LIMIT} times in the same
 * chain and the function's RecursiveLoop is Terminate (the default), Lambda does not invoke it.
 *
 * The Lineage field's layout is not documented. This uses the form Lambda has written into
 * trace headers (`Lineage=a87bd80c:1|68fd508a:5`: an 8-hex hash of a function and its count,
 * one entry per function), which keeps each function's count apart, as AWS counts them.
 */

/** Lambda stops a chain that would invoke the same function more than this many times. */
export const RECURSION_LIMIT = 16;

/** Per function hash, how many times the chain has invoked that function. */
export type Lineage = ReadonlyMap<string, number>;

export interface TraceHeader {
  readonly root: string;
  readonly parent?: string;
  readonly sampled?: string;
  readonly lineage: Lineage;
}

/** The 8-hex hash that stands for a function in a Lineage field. */
export function functionHash(functionArn: string): string {
  return createHash('sha256').update(functionArn).digest('hex').slice(0, 8);
}

/** Parses an X-Ray trace header; undefined when there is none or it has no Root. */
export function parseTraceHeader(header: string | undefined): TraceHeader | undefined {
  if (!header) return undefined;
  const fields = new Map<string, string>();
  for (const part of header.split(';')) {
    const equals = part.indexOf('=');
    if (equals > 0) fields.set(part.slice(0, equals).trim(), part.slice(equals + 1).trim());
  }
  const root = fields.get('Root');
  if (!root) return undefined;
  const parent = fields.get('Parent');
  const sampled = fields.get('Sampled');
  return {
    root,
    ...(parent === undefined ? {} : { parent }),
    ...(sampled === undefined ? {} : { sampled }),
    lineage: parseLineage(fields.get('Lineage')),
  };
}

/** `hash:count|hash:count`; entries of another shape are not ours and count for nothing. */
export function parseLineage(field: string | undefined): Lineage {
  const lineage = new Map<string, number>();
  for (const entry of (field ?? '').split('|')) {
    const match = /^([0-9a-f]{8}):(\d{1,5})$/.exec(entry.trim());
    if (match) {
      const [, hash, count] = match as unknown as [string, string, string];
      lineage.set(hash, Math.max(lineage.get(hash) ?? 0, Number(count)));
    }
  }
  return lineage;
}

export function formatTraceHeader(header: TraceHeader): string {
  const parts = [`Root=${header.root}`];
  if (header.parent !== undefined) parts.push(`Parent=${header.parent}`);
  if (header.sampled !== undefined) parts.push(`Sampled=${header.sampled}`);
  if (header.lineage.size) {
    parts.push(`Lineage=${[...header.lineage].map(([hash, count]) => `${hash}:${count}`).join('|')}`);
  }
  return parts.join(';');
}

/** How many times the chain a message belongs to has invoked this function already. */
export function invocationsSoFar(header: string | undefined, fnHash: string): number {
  return parseTraceHeader(header)?.lineage.get(fnHash) ?? 0;
}

/**
 * Would Lambda stop this message instead of invoking the function with it? Only where the
 * function does not allow recursion, and only once the chain has invoked it the limit's times.
 */
export function stopsChain(
  header: string | undefined,
  fnHash: string,
  recursiveLoop: 'Allow' | 'Terminate',
): boolean {
  return recursiveLoop === 'Terminate' && invocationsSoFar(header, fnHash) >= RECURSION_LIMIT;
}

/**
 * The trace header of an invocation of the function with these messages: the chain's Root
 * (the first message's, or a new one for a message sent outside any chain), a Parent of its
 * own, and the messages' lineage with this function's count one higher. A batch may hold
 * messages of several chains; AWS does not say how it merges them, so the invocation takes
 * the highest count of each function (a chain is never stopped later than AWS would).
 */
export function invocationTraceHeader(
  messageHeaders: readonly (string | undefined)[],
  fnHash: string,
  now = Date.now(),
): string {
  const parsed = messageHeaders.map(parseTraceHeader).filter((h): h is TraceHeader => h !== undefined);
  const lineage = new Map<string, number>();
  for (const header of parsed) {
    for (const [hash, count] of header.lineage) lineage.set(hash, Math.max(lineage.get(hash) ?? 0, count));
  }
  lineage.set(fnHash, (lineage.get(fnHash) ?? 0) + 1);
  return formatTraceHeader({
    root: parsed[0]?.root ?? newRoot(now),
    parent: randomBytes(8).toString('hex'),
    sampled: '0',
    lineage,
  });
}

/** An X-Ray trace id: `1-<epoch seconds, 8 hex>-<24 hex>`. */
function newRoot(now: number): string {
  const epoch = Math.floor(now / 1000)
    .toString(16)
    .padStart(8, '0');
  return `1-${epoch}-${randomBytes(12).toString('hex')}`;
}
