import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

export interface Confirmation {
  /** What will happen, in words: shown before the user agrees. */
  title: string;
  body: ComponentChildren;
  action: string;
  run: () => Promise<void>;
}

/** A modal that names what an action will do and does it only once the user agrees. */
export function ConfirmDialog(props: { confirm: Confirmation; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const { confirm } = props;
  return (
    <div class="modal-backdrop">
      <div class="modal" role="dialog" aria-label={confirm.title} data-testid="confirm">
        <h3>{confirm.title}</h3>
        <div class="modal-body">{confirm.body}</div>
        {error && <div class="error-text">{error}</div>}
        <div class="modal-actions">
          <button type="button" onClick={props.onClose} disabled={busy}>
            Cancel
          </button>
          <button
            type="button"
            class="primary"
            data-testid="confirm-action"
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              try {
                await confirm.run();
                props.onClose();
              } catch (e) {
                setError((e as Error).message);
                setBusy(false);
              }
            }}
          >
            {confirm.action}
          </button>
        </div>
      </div>
    </div>
  );
}
