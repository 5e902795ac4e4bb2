import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ArtifactExpiredError } from '../errors.ts';
import { s3Keys } from '../store/keys.ts';

/** Above this, use multipart upload (also what local emulators need past ~11 MiB). */
const MULTIPART_THRESHOLD = 8 * 1024 * 1024;

/** JSON documents in the artifacts bucket: step outputs, run inputs and results, claim checks. */
export class PayloadStore {
  /** Content-addressed claim objects already written by this process: immutable, so skip re-puts. */
  private readonly claimed = new Set<string>();
  private readonly claimCache = new Map<string, unknown>();

  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    /** How long the bucket keeps artifacts (its lifecycle), for ArtifactExpiredError. */
    private readonly retentionDays?: number,
  ) {}

  async putJson(key: string, value: unknown): Promise<number> {
    const body = JSON.stringify(value ?? null);
    await this.putText(key, body);
    return Buffer.byteLength(body);
  }

  async putText(key: string, body: string): Promise<void> {
    if (Buffer.byteLength(body) > MULTIPART_THRESHOLD) {
      await new Upload({
        client: this.s3,
        params: { Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json' },
      }).done();
      return;
    }
    await this.s3.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json' }),
    );
  }

  async getJson<T = unknown>(key: string): Promise<T> {
    const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    const text = await out.Body?.transformToString('utf8');
    return JSON.parse(text ?? 'null') as T;
  }

  /**
   * A run's artifact (a step output, its input or result). Throws ArtifactExpiredError when
   * the object is gone: the bucket's lifecycle deleted it after the retention. (On AWS a
   * missing key answers NoSuchKey only to a role with s3:ListBucket, else AccessDenied:
   * serverless.yml grants it to every role that reads artifacts.)
   */
  async getArtifact<T = unknown>(key: string, owner: { runId: string; step?: string }): Promise<T> {
    try {
      return await this.getJson<T>(key);
    } catch (error) {
      if ((error as Error).name !== 'NoSuchKey') throw error;
      throw new ArtifactExpiredError(owner.runId, key, owner.step, this.retentionDays, { cause: error });
    }
  }

  /**
   * Claim check: store a large message body once, keyed by its digest, and return the key.
   * The same body (e.g. a large run input carried by many step messages) is stored once.
   */
  async putClaim(body: string): Promise<string> {
    const key = s3Keys.claim(createHash('sha256').update(body).digest('hex'));
    if (!this.claimed.has(key)) {
      await this.putText(key, body);
      this.claimed.add(key);
    }
    return key;
  }

  /** Read a claim back; claims are immutable, so a small per-process cache is safe. */
  async getClaim(key: string): Promise<unknown> {
    if (this.claimCache.has(key)) return this.claimCache.get(key);
    const value = await this.getJson(key);
    if (this.claimCache.size >= 16) this.claimCache.delete(this.claimCache.keys().next().value as string);
    this.claimCache.set(key, value);
    return value;
  }
}
