import { Link } from '../router';
import { usePageTitle } from '../hooks';

export function NotFoundPage() {
  const heading = usePageTitle('Page not found');
  return (
    <section className="card narrow">
      <h1 ref={heading} tabIndex={-1}>
        Page not found
      </h1>
      <p>
        There is nothing here. Go to the <Link to="/dashboard">dashboard</Link>.
      </p>
    </section>
  );
}
