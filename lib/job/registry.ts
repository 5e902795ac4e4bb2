import { InvalidJobError, JobNotFoundError } from '../errors.ts';
import type { JobDefinition } from './defineJob.ts';
import type { Schedule } from './schedule.ts';

/** The jobs a deployment knows: they are bundled with the handlers. */
export class JobRegistry {
  private readonly jobs = new Map<string, JobDefinition<unknown>>();

  constructor(jobs: readonly JobDefinition<unknown>[]) {
    for (const job of jobs) {
      if (this.jobs.has(job.name)) throw new InvalidJobError(job.name, 'is registered twice');
      this.jobs.set(job.name, job);
    }
  }

  get(name: string): JobDefinition<unknown> {
    const job = this.jobs.get(name);
    if (!job) throw new JobNotFoundError(name, this.names());
    return job;
  }

  has(name: string): boolean {
    return this.jobs.has(name);
  }

  /** Every job's schedules, in job order. */
  schedules(): Schedule[] {
    return [...this.jobs.values()].flatMap((job) => job.schedules);
  }

  names(): string[] {
    return [...this.jobs.keys()].sort();
  }
}
