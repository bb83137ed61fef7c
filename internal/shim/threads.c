/* threads.c: the registry of thread stacks and the sampler's view of them.
 *
 * Every thread that runs a hook gets a ScopeThread (see scope.h), listed
 * here so that the pyroscope sampler can find it by kernel thread id. The
 * list is touched at a thread's first hook, at its exit and by the sampler,
 * never on the per-buffer path.
 */
#include "scope.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

__thread ScopeThread *scope_thread_ptr;
gint scope_sampling;

static GMutex threads_lock;
static ScopeThread *threads;

static void
thread_free (gpointer data)
{
  ScopeThread *t = data, **pp;

  g_mutex_lock (&threads_lock);
  for (pp = &threads; *pp; pp = &(*pp)->next)
    if (*pp == t) {
      *pp = t->next;
      break;
    }
  g_mutex_unlock (&threads_lock);
  g_free (t);
}

static GPrivate thread_key = G_PRIVATE_INIT (thread_free);

ScopeThread *
scope_thread_new (void)
{
  ScopeThread *t = g_new0 (ScopeThread, 1);

  t->tid = (gint) syscall (SYS_gettid);
  g_mutex_lock (&threads_lock);
  t->next = threads;
  threads = t;
  g_mutex_unlock (&threads_lock);
  g_private_set (&thread_key, t);
  scope_thread_ptr = t;
  return t;
}

/* The CPU clock of any thread of this process, by kernel thread id: what
 * pthread_getcpuclockid() returns, built from the id (the kernel's
 * MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)), because most threads here
 * were not created by code that could hand us a pthread_t. */
static gboolean
thread_cpu_ns (gint tid, guint64 * ns)
{
  struct timespec ts;
  clockid_t clock = (clockid_t) ((~(guint) tid) << 3) | 6;

  if (clock_gettime (clock, &ts) != 0)
    return FALSE;
  *ns = (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + ts.tv_nsec;
  return TRUE;
}

static void
copy_stack (const ScopeThread * t, ScopeSample * s)
{
  ScopeElement *owner = __atomic_load_n (&t->owner, __ATOMIC_RELAXED);
  guint depth = __atomic_load_n (&t->depth, __ATOMIC_RELAXED);
  guint i;

  s->depth = 0;
  if (owner && !g_atomic_int_get (&owner->dead))
    s->frames[s->depth++] = owner;
  depth = MIN (depth, SCOPE_MAX_DEPTH);
  for (i = 0; i < depth && s->depth < SCOPE_SAMPLE_DEPTH; i++) {
    ScopeElement *e = __atomic_load_n (&t->f[i].elem, __ATOMIC_RELAXED);
    if (e && (s->depth == 0 || s->frames[s->depth - 1] != e))
      s->frames[s->depth++] = e;
  }
}

void
scope_sample (ScopeSample * s, guint n)
{
  ScopeThread *t;
  guint i;

  for (i = 0; i < n; i++) {
    guint64 now;
    s[i].depth = 0;
    s[i].delta_ns = 0;
    s[i].gone = !thread_cpu_ns (s[i].tid, &now);
    if (s[i].gone)
      continue;
    /* A smaller reading is a new thread that reused the id. */
    s[i].delta_ns = now >= s[i].cpu_ns ? now - s[i].cpu_ns : now;
    s[i].cpu_ns = now;
  }

  g_mutex_lock (&threads_lock);
  for (t = threads; t; t = t->next)
    for (i = 0; i < n; i++)
      if (s[i].tid == t->tid) {
        if (s[i].delta_ns > 0)
          copy_stack (t, &s[i]);
        break;
      }
  g_mutex_unlock (&threads_lock);

  for (i = 0; i < n; i++)
    if (s[i].depth > 0)
      __atomic_fetch_add (&s[i].frames[s[i].depth - 1]->cpu_ns,
          s[i].delta_ns, __ATOMIC_RELAXED);
}
