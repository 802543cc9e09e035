import { useEffect, useRef } from 'react';

/** usePageTitle sets the document title and moves focus to the page heading, as a page load would for screen readers. */
export function usePageTitle(title: string) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Gatehouse`;
    heading.current?.focus({ preventScroll: true });
  }, [title]);
  return heading;
}

/** formatTime shows a timestamp in the reader's locale. */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
