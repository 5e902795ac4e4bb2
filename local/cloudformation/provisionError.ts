/** A resource that could not be created, updated or deleted: its stack event's reason. */
export class ProvisionError extends Error {
  override readonly name = 'ProvisionError';
}
