import { useEffect, useState } from 'preact/hooks';

/** The path shown: /, /runs/ID, /queues. Links push history; back and forward re-render. */
export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener('popstate', onPop);
    addEventListener('lambdag:navigate', onPop);
    return () => {
      removeEventListener('popstate', onPop);
      removeEventListener('lambdag:navigate', onPop);
    };
  }, []);
  return path;
}

export function navigate(path: string): void {
  history.pushState(null, '', path);
  dispatchEvent(new Event('lambdag:navigate'));
}

export function Link(props: { href: string; children: preact.ComponentChildren; class?: string }) {
  return (
    <a
      href={props.href}
      class={props.class}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey) return;
        e.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}
