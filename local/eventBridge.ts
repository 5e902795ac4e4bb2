import { randomUUID } from 'node:crypto';
import { LocalStackError } from '../lib/errors.ts';
import type { Log } from '../lib/log.ts';
import { checkEventPattern, type EventPattern, matchesEventPattern } from './eventPattern.ts';
import type { LocalTaskFunction } from './lambdaContext.ts';
import { lambdaContext } from './lambdaContext.ts';

/** An event on the default bus, in the envelope EventBridge gives its targets. */
export interface BusEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: unknown;
}

/** What a service puts on the bus (PutEvents' entry). */
export interface BusEntry {
  readonly source: string;
  readonly detailType: string;
  readonly detail: unknown;
  readonly resources?: readonly string[];
}

/** One invocation of a rule's target for an event: what the function returned, or its error. */
export interface Delivery {
  readonly rule: string;
  readonly target: string;
  readonly functionName: string;
  readonly result?: unknown;
  readonly error?: string;
}

export interface PublishedEvent {
  readonly event: BusEvent;
  /** Settles once every matching target has been invoked (with its retries). */
  readonly deliveries: Promise<Delivery[]>;
}

/** A rule on the bus: its event pattern and the functions it invokes. */
export interface EventRule {
  readonly logicalId: string;
  readonly arn: string;
  readonly pattern: EventPattern;
  readonly targets: readonly { readonly id: string; readonly fn: LocalTaskFunction }[];
}
type Rule = EventRule;

export interface LocalEventBridgeOptions {
  readonly region: string;
  readonly accountId: string;
  readonly log: Log;
  /** Pause before each retry of a failed invocation (Lambda waits minutes; locally short). */
  readonly retryMs?: number;
}

/** Lambda retries an asynchronous invocation (EventBridge's) twice after a function error. */
const ASYNC_RETRIES = 2;

/**
 * The default event bus of the embedded stack: the template's AWS::Events::Rule resources
 * (put by local/cloudformation/ through `ruleOf`) with their event patterns
 * (local/eventPattern.ts), and their Lambda targets invoked asynchronously, as EventBridge
 * does. A target needs an AWS::Lambda::Permission letting events.amazonaws.com invoke it for
 * that rule: without one, as on AWS, every invocation fails (deployedFunctions.ts).
 */
export class LocalEventBridge {
  private readonly rules: Rule[] = [];
  private readonly published: PublishedEvent[] = [];
  private readonly inFlight = new Set<Promise<Delivery[]>>();
  private closed = false;

  constructor(private readonly options: LocalEventBridgeOptions) {}

  /** Add a rule, or replace the one with its ARN (an AWS::Events::Rule, local/cloudformation/). */
  putRule(rule: EventRule): void {
    this.deleteRule(rule.arn);
    this.rules.push(rule);
  }

  deleteRule(arn: string): void {
    const at = this.rules.findIndex((rule) => rule.arn === arn);
    if (at >= 0) this.rules.splice(at, 1);
  }

  /** The events put on the bus so far, in order, each with its deliveries. */
  events(): readonly PublishedEvent[] {
    return this.published;
  }

  /** PutEvents of one entry on the default bus. */
  put(entry: BusEntry): PublishedEvent {
    return this.deliver({
      version: '0',
      id: randomUUID(),
      'detail-type': entry.detailType,
      source: entry.source,
      account: this.options.accountId,
      time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.options.region,
      resources: entry.resources ?? [],
      detail: entry.detail,
    });
  }

  /** Deliver an event as it is (EventBridge delivers at least once: tests send one twice). */
  deliver(event: BusEvent): PublishedEvent {
    if (this.closed) {
      this.options.log.debug('event bus closed; event not delivered', { id: event.id });
      return { event, deliveries: Promise.resolve([]) };
    }
    const matched = this.rules.filter((rule) => matchesEventPattern(rule.pattern, event));
    const deliveries = Promise.all(
      matched.flatMap((rule) => rule.targets.map((target) => this.invoke(rule, target, event))),
    );
    this.inFlight.add(deliveries);
    void deliveries.finally(() => this.inFlight.delete(deliveries));
    const published = { event, deliveries };
    this.published.push(published);
    return published;
  }

  /** Deliver nothing more, and wait for the deliveries under way. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.inFlight]);
  }

  private async invoke(rule: Rule, target: Rule['targets'][number], event: BusEvent): Promise<Delivery> {
    const base = { rule: rule.logicalId, target: target.id, functionName: target.fn.functionName };
    let error = '';
    for (let attempt = 0; attempt <= ASYNC_RETRIES; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, this.options.retryMs ?? 200));
      try {
        const payload = JSON.parse(JSON.stringify(event));
        const result = await target.fn.handler(payload, lambdaContext(target.fn, randomUUID()));
        return { ...base, result: result === undefined ? null : JSON.parse(JSON.stringify(result)) };
      } catch (caught) {
        error = caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught);
        this.options.log.warn('event target failed', { ...base, attempt: attempt + 1, error });
      }
    }
    this.options.log.error('event target failed after its retries; event dropped', { ...base, id: event.id });
    return { ...base, error };
  }
}

/**
 * An AWS::Events::Rule's properties (intrinsics evaluated) as a rule on the default bus, or
 * undefined when DISABLED. What the bus does not implement (schedules, other buses, target
 * input transforms, some pattern features) is refused, not ignored. `targetOf` gives the
 * function a target's ARN names.
 */
export function ruleOf(
  name: string,
  arn: string,
  props: Readonly<Record<string, unknown>>,
  targetOf: (functionArn: string) => LocalTaskFunction,
): EventRule | undefined {
  for (const unsupported of ['ScheduleExpression', 'EventBusName', 'RoleArn']) {
    if (
      props[unsupported] !== undefined &&
      !(unsupported === 'EventBusName' && props[unsupported] === 'default')
    )
      throw new LocalStackError(
        `${name}: ${unsupported} is not implemented by the embedded stack's event bus`,
      );
  }
  if (props.State === 'DISABLED') return undefined;
  const rawPattern =
    typeof props.EventPattern === 'string' ? JSON.parse(props.EventPattern) : props.EventPattern;
  const pattern = checkEventPattern(rawPattern, name);
  const targets = ((props.Targets ?? []) as Record<string, unknown>[]).map((target, i) => {
    for (const key of Object.keys(target)) {
      if (key !== 'Id' && key !== 'Arn')
        throw new LocalStackError(`${name} Targets[${i}]: ${key} is not implemented by the embedded stack`);
    }
    return { id: String(target.Id), fn: targetOf(String(target.Arn)) };
  });
  return { logicalId: name, arn, pattern, targets };
}
