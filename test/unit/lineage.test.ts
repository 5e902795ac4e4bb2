import { describe, expect, it } from 'vitest';
import {
  functionHash,
  invocationsSoFar,
  invocationTraceHeader,
  parseTraceHeader,
  RECURSION_LIMIT,
  stopsChain,
} from '../../local/lineage.ts';

const worker = functionHash('arn:aws:lambda:us-east-1:000000000000:function:lambdag-local-stepWorker');
const other = functionHash('arn:aws:lambda:us-east-1:000000000000:function:other');

/** The header a message carries after `hops` invocations of the worker, each sending the next. */
function afterHops(hops: number): string | undefined {
  let header: string | undefined;
  for (let i = 0; i < hops; i++) header = invocationTraceHeader([header], worker);
  return header;
}

describe('the lineage of a Lambda -> SQS -> Lambda chain', () => {
  it('names a function by an 8-hex hash of its ARN', () => {
    expect(worker).toMatch(/^[0-9a-f]{8}$/);
    expect(worker).not.toBe(other);
  });

  it('starts a new chain for a message sent outside any invocation', () => {
    expect(invocationsSoFar(undefined, worker)).toBe(0);
    const header = parseTraceHeader(invocationTraceHeader([undefined], worker));
    expect(header?.root).toMatch(/^1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    expect(header?.lineage.get(worker)).toBe(1);
  });

  it('counts one more invocation of the function at each hop, keeping the chain root', () => {
    const first = afterHops(1);
    const fifth = afterHops(5);
    expect(invocationsSoFar(fifth, worker)).toBe(5);
    const next = invocationTraceHeader([fifth], worker);
    expect(parseTraceHeader(next)?.root).toBe(parseTraceHeader(fifth)?.root);
    expect(parseTraceHeader(next)?.root).not.toBe(parseTraceHeader(first)?.root);
    expect(next).toMatch(new RegExp(`;Lineage=${worker}:6$`));
  });

  it("keeps each function's count apart: another function's invocations do not count", () => {
    const viaOther = invocationTraceHeader([afterHops(3)], other);
    expect(invocationsSoFar(viaOther, worker)).toBe(3);
    expect(invocationsSoFar(viaOther, other)).toBe(1);
    expect(invocationsSoFar(invocationTraceHeader([viaOther], worker), worker)).toBe(4);
  });

  it('takes the highest count of each function over the messages of a batch', () => {
    const header = invocationTraceHeader([afterHops(2), afterHops(9), undefined], worker);
    expect(invocationsSoFar(header, worker)).toBe(10);
  });

  it('reads a Lineage field of several functions, and ignores entries of another shape', () => {
    const header = `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=${other}:2|${worker}:7|1:abc:0`;
    expect(invocationsSoFar(header, worker)).toBe(7);
    expect(invocationsSoFar(header, other)).toBe(2);
    expect(parseTraceHeader('Parent=53995c3f42cd8ad8')).toBeUndefined();
  });
});

describe('stopping a chain (RecursiveLoop)', () => {
  it('delivers the message of the 16th invocation and stops the 17th, where recursion is not allowed', () => {
    expect(RECURSION_LIMIT).toBe(16);
    expect(stopsChain(afterHops(RECURSION_LIMIT - 1), worker, 'Terminate')).toBe(false);
    expect(stopsChain(afterHops(RECURSION_LIMIT), worker, 'Terminate')).toBe(true);
  });

  it('never stops a function that allows recursion', () => {
    expect(stopsChain(afterHops(100), worker, 'Allow')).toBe(false);
  });

  it('does not stop a function for the count of another one', () => {
    expect(stopsChain(afterHops(RECURSION_LIMIT), other, 'Terminate')).toBe(false);
  });
});
