/* threads.c: the registry of thread stacks and the CPU profiler's C side.
 *
 * Every thread that runs a hook gets a ScopeThread (see scope.h), listed
 * here so that the sampler can find it by kernel thread id. The list is
 * touched at a thread's first hook, at its exit, when profiling starts or
 * stops and by the sampler, never on the per-buffer path.
 *
 * Where the CPU went: while the pyroscope tracer runs, each listed thread
 * has a POSIX timer on its own CPU clock. Every 1/rate seconds of CPU the
 * thread used, the timer's signal interrupts it where it is running and the
 * handler copies its element stack into the thread's ring. The sampler then
 * reads each thread's exact CPU time from its clock and shares it among the
 * stacks recorded since the last sample. Asking "where is the thread now?"
 * instead would charge a bursty thread's work to wherever it sleeps (a
 * queue waiting for data), the common case in live pipelines.
 *
 * The handler is installed once, with SA_RESTART so that interrupted system
 * calls resume, and never removed (a late signal must not hit the default
 * action, which terminates the process). It only reads the thread's own
 * stack and writes its own ring: async-signal-safe, lock-free.
 */
#include "scope.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

__thread ScopeThread *scope_thread_ptr
    __attribute__ ((tls_model ("initial-exec")));
gint scope_sampling;

static GMutex threads_lock;
static ScopeThread *threads;
/* What threads that exited since the last sample used, for the sampler. */
#define GRAVEYARD 64
static ScopeCharge graveyard[GRAVEYARD];
static guint n_graveyard;
static gint prof_signo;         /* the handler's signal, once installed */
static guint64 prof_interval_ns;        /* 0: no profiling; under the lock */

/* The CPU clock of any thread of this process, by kernel thread id: what
 * pthread_getcpuclockid() returns, built from the id (the kernel's
 * MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)), because most threads here
 * were not created by code that could hand us a pthread_t. */
static clockid_t
thread_clock (gint tid)
{
  return (clockid_t) ((~(guint) tid) << 3) | 6;
}

static gboolean
thread_cpu_ns (gint tid, guint64 * ns)
{
  struct timespec ts;

  if (clock_gettime (thread_clock (tid), &ts) != 0)
    return FALSE;
  *ns = (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + ts.tv_nsec;
  return TRUE;
}

/* The thread's stack, outermost first: the owner, then each element whose
 * chain or getrange function it is inside. An owner that left its pipeline
 * is dropped (a pooled task thread may serve another element next), unless
 * dead_owner: at the end, it is the best guess for the last CPU used.
 * Async-signal-safe. */
static void
copy_stack (const ScopeThread * t, ScopeStack * s, gboolean dead_owner)
{
  ScopeElement *owner = __atomic_load_n (&t->owner, __ATOMIC_RELAXED);
  guint depth = __atomic_load_n (&t->depth, __ATOMIC_RELAXED);
  guint i;

  s->depth = 0;
  if (owner && (dead_owner || !scope_dead (owner)))
    s->frames[s->depth++] = owner;
  depth = MIN (depth, SCOPE_MAX_DEPTH);
  for (i = 0; i < depth && s->depth < SCOPE_SAMPLE_DEPTH; i++) {
    ScopeElement *e = __atomic_load_n (&t->f[i].elem, __ATOMIC_RELAXED);
    if (e && (s->depth == 0 || s->frames[s->depth - 1] != e))
      s->frames[s->depth++] = e;
  }
}

static void
on_profile_signal (int sig, siginfo_t * info, void *context)
{
  int saved = errno;
  ScopeThread *t = scope_thread_ptr;
  ScopeStackRing *r = t ? __atomic_load_n (&t->ring, __ATOMIC_ACQUIRE) : NULL;

  if (r) {
    guint64 head = r->head;
    if (head - __atomic_load_n (&r->tail, __ATOMIC_ACQUIRE) < SCOPE_STACK_RING) {
      copy_stack (t, &r->e[head % SCOPE_STACK_RING], FALSE);
      __atomic_store_n (&r->head, head + 1, __ATOMIC_RELEASE);
    }
  }
  errno = saved;
}

/* Starts the thread's CPU timer. Under the lock. */
static void
timer_arm (ScopeThread * t)
{
  struct sigevent sev = { 0 };
  struct itimerspec its = { {0} };

  if (t->has_timer || !prof_interval_ns)
    return;
  if (!t->ring)
    __atomic_store_n (&t->ring, g_new0 (ScopeStackRing, 1), __ATOMIC_RELEASE);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = prof_signo;
  sev.sigev_notify_thread_id = t->tid;
  if (timer_create (thread_clock (t->tid), &sev, &t->timer) != 0) {
    GST_DEBUG ("no CPU timer for thread %d: %s", t->tid, g_strerror (errno));
    return;
  }
  its.it_value.tv_sec = its.it_interval.tv_sec = prof_interval_ns / 1000000000;
  its.it_value.tv_nsec = its.it_interval.tv_nsec = prof_interval_ns % 1000000000;
  if (timer_settime (t->timer, 0, &its, NULL) != 0) {
    timer_delete (t->timer);
    return;
  }
  t->has_timer = TRUE;
}

static void
timer_disarm (ScopeThread * t)
{
  if (t->has_timer)
    timer_delete (t->timer);
  t->has_timer = FALSE;
}

static guint drain (ScopeThread * t, ScopeCharge * out, guint max,
    gboolean final);

static void
thread_free (gpointer data)
{
  ScopeThread *t = data, **pp;
  guint64 now;

  /* From here on a profiling signal on this thread records nothing. */
  scope_thread_ptr = NULL;
  __atomic_signal_fence (__ATOMIC_SEQ_CST);
  g_mutex_lock (&threads_lock);
  for (pp = &threads; *pp; pp = &(*pp)->next)
    if (*pp == t) {
      *pp = t->next;
      break;
    }
  timer_disarm (t);
  /* Its CPU since the sampler last looked would vanish with it. */
  if (g_atomic_int_get (&scope_sampling) && thread_cpu_ns (t->tid, &now)) {
    t->pending_ns += now > t->cpu_seen_ns ? now - t->cpu_seen_ns : 0;
    n_graveyard += drain (t, graveyard + n_graveyard, GRAVEYARD - n_graveyard,
        TRUE);
  }
  g_mutex_unlock (&threads_lock);
  g_free (t->ring);
  g_free (t);
}

static GPrivate thread_key = G_PRIVATE_INIT (thread_free);

ScopeThread *
scope_thread_new (void)
{
  ScopeThread *t = g_new0 (ScopeThread, 1);

  t->pend_rt = t->pend_rt_end = GST_CLOCK_TIME_NONE;
  t->tid = (gint) syscall (SYS_gettid);
  g_private_set (&thread_key, t);
  scope_thread_ptr = t;
  g_mutex_lock (&threads_lock);
  t->next = threads;
  threads = t;
  timer_arm (t);
  g_mutex_unlock (&threads_lock);
  return t;
}

/* A real-time signal nobody handles, from the top of the range down (the
 * bottom is where applications and libraries usually take theirs). */
static gint
install_handler (void)
{
  struct sigaction sa = { 0 };
  gint sig;

  sa.sa_sigaction = on_profile_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigfillset (&sa.sa_mask);
  for (sig = SIGRTMAX - 1; sig >= SIGRTMIN + 2; sig--) {
    struct sigaction old;
    if (sigaction (sig, NULL, &old) != 0)
      continue;
    if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
      continue;
    if (sigaction (sig, &sa, NULL) == 0)
      return sig;
  }
  return 0;
}

gint
scope_profiler_start (guint hz, gchar ** why)
{
  ScopeThread *t;

  if (hz == 0) {
    *why = g_strdup ("sample rate 0");
    return -1;
  }
  g_mutex_lock (&threads_lock);
  if (!prof_signo)
    prof_signo = install_handler ();
  if (!prof_signo) {
    g_mutex_unlock (&threads_lock);
    *why = g_strdup ("no free real-time signal for the profiling timers");
    return -1;
  }
  prof_interval_ns = G_GUINT64_CONSTANT (1000000000) / hz;
  for (t = threads; t; t = t->next)
    timer_arm (t);
  g_mutex_unlock (&threads_lock);
  return prof_signo;
}

void
scope_profiler_stop (void)
{
  ScopeThread *t;

  g_mutex_lock (&threads_lock);
  prof_interval_ns = 0;
  for (t = threads; t; t = t->next)
    timer_disarm (t);
  g_mutex_unlock (&threads_lock);
}

/* Shares the thread's pending CPU among the stacks its signal recorded.
 * The timer is checked at kernel ticks that find the thread running, so a
 * thread working in short bursts may wait long for one: its CPU stays
 * pending meanwhile. Without a stack, and when none can be expected (no
 * timer, a thread that used a second of CPU without one: its signal is
 * blocked, or the last sample), the CPU goes to where the thread is now.
 * Under the lock. */
static guint
drain (ScopeThread * t, ScopeCharge * out, guint max, gboolean final)
{
  guint64 hopeless = MAX (G_GUINT64_CONSTANT (1000000000),
      100 * prof_interval_ns);
  ScopeStackRing *r = t->ring;
  guint n = 0, i;

  if (r) {
    guint64 tail = r->tail, head = __atomic_load_n (&r->head, __ATOMIC_ACQUIRE);
    for (; tail != head && n < max; tail++, n++)
      out[n].stack = r->e[tail % SCOPE_STACK_RING];
    __atomic_store_n (&r->tail, tail, __ATOMIC_RELEASE);
  }
  if (n == 0 && t->pending_ns > 0 && max > 0 && (final || !t->has_timer
          || t->pending_ns >= hopeless)) {
    copy_stack (t, &out[0].stack, final);
    n = 1;
  }
  for (i = 0; i < n; i++) {
    out[i].tid = t->tid;
    out[i].ns = t->pending_ns / n + (i == n - 1 ? t->pending_ns % n : 0);
  }
  if (n > 0)
    t->pending_ns = 0;
  return n;
}

void
scope_threads_forget (ScopeElement * e)
{
  ScopeThread *t;

  g_mutex_lock (&threads_lock);
  for (t = threads; t; t = t->next) {
    ScopeElement *expected = e;
    /* Fails when the thread has meanwhile moved on: then it is not e's. */
    __atomic_compare_exchange_n (&t->owner, &expected, NULL, FALSE,
        __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  }
  g_mutex_unlock (&threads_lock);
}

guint
scope_sample (ScopeSample * s, guint n, ScopeCharge * out, guint max,
    gboolean final)
{
  ScopeThread *t;
  guint i, nout = 0;

  for (i = 0; i < n; i++) {
    guint64 now;
    s[i].other_ns = 0;
    s[i].gone = !thread_cpu_ns (s[i].tid, &now);
    if (s[i].gone)
      continue;
    /* A smaller reading is a new thread that reused the id. The delta
     * stays in other_ns for threads without a stack; the others move it
     * to their pending CPU below. */
    s[i].other_ns = now >= s[i].cpu_ns ? now - s[i].cpu_ns : now;
    s[i].cpu_ns = now;
  }

  g_mutex_lock (&threads_lock);
  for (i = 0; i < n_graveyard && nout < max; i++)
    out[nout++] = graveyard[i];
  n_graveyard = 0;
  for (t = threads; t; t = t->next)
    for (i = 0; i < n; i++)
      if (s[i].tid == t->tid && !s[i].gone) {
        t->pending_ns += s[i].other_ns;
        t->cpu_seen_ns = s[i].cpu_ns;
        s[i].other_ns = 0;
        nout += drain (t, out + nout, max - nout, final);
        break;
      }
  g_mutex_unlock (&threads_lock);

  for (i = 0; i < nout; i++)
    if (out[i].stack.depth > 0 && out[i].ns > 0)
      __atomic_fetch_add (&out[i].stack.frames[out[i].stack.depth - 1]->cpu_ns,
          out[i].ns, __ATOMIC_RELAXED);
  return nout;
}
