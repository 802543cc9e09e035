import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { useAuth } from '@gatehouse/react';
import { describe, failure, fieldErrors } from '../errors';
import { formatTime, usePageTitle } from '../hooks';

interface Post {
  id: string;
  title: string;
  body: string;
  author: { id: string; name: string };
  created_at: string;
}

interface Page {
  items: Post[];
  next_cursor: string | null;
}

export function DashboardPage() {
  const heading = usePageTitle('Dashboard');
  const { user, fetch } = useAuth();
  const [posts, setPosts] = useState<Post[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadError, setLoadError] = useState<string | null>(null);

  const load = useCallback(
    async (after: string | null) => {
      setLoading(true);
      setLoadError(null);
      try {
        const q = new URLSearchParams({ limit: '20' });
        if (after) q.set('cursor', after);
        const res = await fetch(`/api/posts?${q}`);
        if (!res.ok) throw await failure(res);
        const page = (await res.json()) as Page;
        setPosts((prev) => (after && prev ? [...prev, ...page.items] : page.items));
        setCursor(page.next_cursor || null);
      } catch (err) {
        setLoadError(describe(err));
      } finally {
        setLoading(false);
      }
    },
    [fetch],
  );

  useEffect(() => {
    void load(null);
  }, [load]);

  if (!user) return null;
  return (
    <>
      <h1 ref={heading} tabIndex={-1}>
        Dashboard
      </h1>
      <div className="grid">
        <section className="card" aria-labelledby="account-title">
          <h2 id="account-title">Your account</h2>
          <dl className="facts">
            <dt>Name</dt>
            <dd>{user.name || '—'}</dd>
            <dt>Email</dt>
            <dd>{user.email}</dd>
            <dt>Member since</dt>
            <dd>{formatTime(user.created_at)}</dd>
          </dl>
        </section>
        <NewPost onCreated={(p) => setPosts((prev) => [p, ...(prev ?? [])])} />
      </div>
      <section className="card" aria-labelledby="feed-title">
        <h2 id="feed-title">Posts</h2>
        {loadError && (
          <div className="error" role="alert">
            <p>Could not load the posts: {loadError}</p>
            <button type="button" className="secondary" onClick={() => void load(null)}>
              Try again
            </button>
          </div>
        )}
        {posts && posts.length === 0 && !loading && <p className="empty">No posts yet. Write the first one.</p>}
        {posts && posts.length > 0 && (
          <ul className="feed">
            {posts.map((p) => (
              <PostItem key={p.id} post={p} own={p.author.id === user.id} onDeleted={() => setPosts((prev) => prev?.filter((x) => x.id !== p.id) ?? null)} />
            ))}
          </ul>
        )}
        {loading && (
          <p className="loading" role="status">
            Loading posts…
          </p>
        )}
        {cursor && !loading && (
          <button type="button" className="secondary" onClick={() => void load(cursor)}>
            Load more
          </button>
        )}
      </section>
    </>
  );
}

function NewPost({ onCreated }: { onCreated: (p: Post) => void }) {
  const { fetch } = useAuth();
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setFields({});
    try {
      const res = await fetch('/api/posts', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ title: title.trim(), body: body.trim() }),
      });
      if (!res.ok) throw await failure(res);
      onCreated((await res.json()) as Post);
      setTitle('');
      setBody('');
    } catch (err) {
      setError(describe(err));
      setFields(fieldErrors(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="new-post-title">
      <h2 id="new-post-title">New post</h2>
      <form onSubmit={submit}>
        <label htmlFor="post-title">Title</label>
        <input id="post-title" name="title" required maxLength={200} value={title} onChange={(e) => setTitle(e.target.value)} aria-invalid={fields.title ? true : undefined} />
        {fields.title && <p className="field-error">{fields.title}</p>}
        <label htmlFor="post-body">Body</label>
        <textarea id="post-body" name="body" required rows={3} value={body} onChange={(e) => setBody(e.target.value)} aria-invalid={fields.body ? true : undefined} />
        {fields.body && <p className="field-error">{fields.body}</p>}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="submit" disabled={busy} aria-busy={busy}>
            Publish
          </button>
          {busy && (
            <span className="pending" role="status">
              Publishing…
            </span>
          )}
        </div>
      </form>
    </section>
  );
}

function PostItem({ post, own, onDeleted }: { post: Post; own: boolean; onDeleted: () => void }) {
  const { fetch } = useAuth();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      const res = await fetch(`/api/posts/${encodeURIComponent(post.id)}`, { method: 'DELETE' });
      if (!res.ok && res.status !== 404) throw await failure(res);
      onDeleted();
    } catch (err) {
      setError(describe(err));
      setBusy(false);
    }
  };

  const titleId = `post-${post.id}`;
  return (
    <li>
      <article aria-labelledby={titleId}>
        <h3 id={titleId}>{post.title}</h3>
        <p className="meta">
          by {post.author.name || 'someone'}
          {own && ' (you)'} · <time dateTime={post.created_at}>{formatTime(post.created_at)}</time>
        </p>
        <p className="body">{post.body}</p>
        {own && (
          <button type="button" className="danger small" onClick={remove} disabled={busy} aria-label={`Delete “${post.title}”`}>
            {busy ? 'Deleting…' : 'Delete'}
          </button>
        )}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </article>
    </li>
  );
}
