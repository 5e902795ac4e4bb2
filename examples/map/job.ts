import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { defineJob } from '../../lib/job/defineJob.ts';

/**
 * list → process each → sum, the list known only at run time. `seed` writes `n` objects
 * (object i holds the number i) under the run's prefix of its bucket; `list` lists them;
 * `process` is a map step, one item per object, reading it; `sum` adds what they read.
 */
export const map = defineJob(
  'map',
  {
    input: z.object({
      n: z.number().int().min(0).max(10_000).default(25),
      maxConcurrency: z.number().int().positive().default(10),
    }),
    description: 'list objects under a prefix, process each as a map item, sum.',
  },
  (job, input) => {
    // ctx.aws: the worker's clients, signing as its role (on AWS and on the embedded stack).
    const seed = job.step('seed', async (_, { aws, bucket, runId, input }) => {
      const prefix = `runs/${runId}/example-map/`;
      for (let i = 0; i < input.n; i++) {
        const Key = `${prefix}object-${String(i).padStart(5, '0')}.json`;
        await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: JSON.stringify({ value: i }) }));
      }
      return { prefix };
    });
    const list = job.step('list', { dependsOn: { seed } }, async ({ seed }, { aws, bucket }) => {
      const keys: string[] = [];
      let ContinuationToken: string | undefined;
      do {
        const page = await aws.s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: seed.prefix, ContinuationToken }),
        );
        for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
        ContinuationToken = page.NextContinuationToken;
      } while (ContinuationToken);
      return keys;
    });
    const processed = job.map(
      'process',
      {
        over: list,
        maxConcurrency: input.maxConcurrency,
        retries: 2,
        // `process[object-00017]` rather than `process[17]`.
        itemKey: (key) => (key.split('/').at(-1) ?? key).replace(/\.json$/, ''),
      },
      async (key, { aws, bucket }) => {
        const object = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const { value } = JSON.parse(await (object.Body?.transformToString() ?? '{}')) as { value: number };
        return value;
      },
    );
    job.step('sum', { dependsOn: { values: processed } }, ({ values }) => ({
      objects: values.length,
      sum: values.reduce((a, b) => a + b, 0),
    }));
  },
);
