import type { JobDefinition } from '../lib/job/defineJob.ts';
import { diamond } from './diamond/job.ts';
import { failing, failingFast } from './failing/job.ts';
import { fanout } from './fanout/job.ts';
import { long } from './long/job.ts';
import { map } from './map/job.ts';
import { serial } from './serial/job.ts';

export { diamond, failing, failingFast, fanout, long, map, serial };

/** The example jobs, as bundled into the handlers' registry. */
export const examples: readonly JobDefinition<unknown>[] = [
  serial,
  diamond,
  fanout,
  failing,
  failingFast,
  long,
  map,
];
