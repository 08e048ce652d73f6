// poll.js — a hook that reads something now and again every intervalMs (after each answer, never two at
// once) while the component is shown.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

// load(): a promise of the data. Returns {data, error, reload}: the last answer (kept while a later read
// fails), the last failure's message ('' after a success), and reload() to read at once.
export function usePolling(load, intervalMs) {
  const [state, setState] = useState({ data: null, error: '' });
  const timer = useRef(null);
  const alive = useRef(true);
  const loadRef = useRef(load);
  loadRef.current = load;
  const read = useCallback(async () => {
    clearTimeout(timer.current);
    try {
      const data = await loadRef.current();
      if (alive.current) setState({ data, error: '' });
    } catch (error) {
      if (alive.current) setState((state) => ({ ...state, error: error.message }));
    }
    if (alive.current && intervalMs > 0) {
      clearTimeout(timer.current);
      timer.current = setTimeout(read, intervalMs);
    }
  }, [intervalMs]);
  useEffect(() => {
    alive.current = true;
    read();
    return () => {
      alive.current = false;
      clearTimeout(timer.current);
    };
  }, [read]);
  return { ...state, reload: read };
}
