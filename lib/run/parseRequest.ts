import type { z } from 'zod';
import { InvalidInputError } from '../errors.ts';

/**
 * A state machine input or event parsed by `schema`; otherwise an InvalidInputError saying
 * `what` is invalid, one issue per field by its path (`whole` when the issue is the input's).
 */
export function parseRequest<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  what: string,
  whole = '(request)',
): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new InvalidInputError(
    `${what} is invalid`,
    parsed.error.issues.map((i) => `${i.path.join('.') || whole}: ${i.message}`),
  );
}
