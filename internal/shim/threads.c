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
 *
 * Worker threads that run no hook (a codec library's own threads) get a
 * timer too when the sampler asks (scope_foreign_arm): their signal finds
 * no ScopeThread and records the instruction pointer it interrupted
 * instead, which Go maps to the library and the element that uses it.
 */
#define _GNU_SOURCE             /* REG_RIP */
#include "scope.h"

#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
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

/* ---- Worker threads: the table the signal handler reads ----
 * A slot is taken and released under the registry lock (by the sampler and
 * at profiler start and stop); the handler finds it without a lock through
 * the timer's value (index | generation << 8) and uses it only if its
 * generation and thread id still match: a late signal from a released
 * timer, or a thread that reused an id, records nothing. Released slots
 * wait FOREIGN_QUARANTINE_NS before reuse, so that a handler that matched a
 * slot just before its release has long finished writing to it. */
typedef struct {
  gint tid;                     /* atomic; 0: free */
  guint gen;                    /* atomic; bumped at each arm, never 0 */
  ScopeCpuTimer timer;
  guint64 freed_at;             /* monotonic ns of the last release */
  guint64 head __attribute__ ((aligned (SCOPE_CACHE_LINE)));   /* handler */
  guint64 tail;                 /* sampler */
  guint64 ip[SCOPE_IP_RING];
} ScopeForeign;

#define FOREIGN_QUARANTINE_NS (G_GUINT64_CONSTANT (1000000000))
#define FOREIGN_GEN_MAX 0x7fffff
static ScopeForeign foreign[SCOPE_FOREIGN_MAX];
static guint foreign_gen;       /* under the lock */

/* The instruction pointer the signal interrupted, 0 where unknown. */
static guint64
context_ip (void *context)
{
#if defined(__x86_64__)
  return (guint64) ((ucontext_t *) context)->uc_mcontext.gregs[REG_RIP];
#elif defined(__i386__)
  return (guint64) ((ucontext_t *) context)->uc_mcontext.gregs[REG_EIP];
#elif defined(__aarch64__)
  return (guint64) ((ucontext_t *) context)->uc_mcontext.pc;
#else
  return 0;
#endif
}

/* A worker thread's signal: records where it was. Async-signal-safe. */
static void
foreign_signal (siginfo_t * info, void *context)
{
  guint v, idx;
  ScopeForeign *f = NULL;
  guint64 head, ip;
  gint fd, tid = (gint) syscall (SYS_gettid);

  if (scope_cpu_timer_perf_signal (info, &fd)) {
    /* A perf event's signal names its fd: the slot armed with it. */
    for (idx = 0; idx < SCOPE_FOREIGN_MAX && !f; idx++)
      if (__atomic_load_n (&foreign[idx].timer.fd, __ATOMIC_ACQUIRE) == fd
          && __atomic_load_n (&foreign[idx].tid, __ATOMIC_ACQUIRE) == tid)
        f = &foreign[idx];
    if (!f)
      return;
    scope_cpu_timer_rearm (fd);
  } else {
    if (info->si_code != SI_TIMER)
      return;
    v = (guint) info->si_value.sival_int;
    idx = v & 0xff;
    if (idx >= SCOPE_FOREIGN_MAX)
      return;
    f = &foreign[idx];
    if (v >> 8 == 0 || __atomic_load_n (&f->gen, __ATOMIC_ACQUIRE) != v >> 8
        || __atomic_load_n (&f->tid, __ATOMIC_ACQUIRE) != tid)
      return;
  }
  ip = context_ip (context);
  head = f->head;
  if (ip && head - __atomic_load_n (&f->tail, __ATOMIC_ACQUIRE) < SCOPE_IP_RING) {
    f->ip[head % SCOPE_IP_RING] = ip;
    __atomic_store_n (&f->head, head + 1, __ATOMIC_RELEASE);
  }
}

static void
on_profile_signal (int sig, siginfo_t * info, void *context)
{
  int saved = errno;
  ScopeThread *t = scope_thread_ptr;
  ScopeStackRing *r = t ? __atomic_load_n (&t->ring, __ATOMIC_ACQUIRE) : NULL;
  gint fd;

  if (t && scope_cpu_timer_perf_signal (info, &fd)) {
    /* Only the thread's own event: it fires again once let. */
    if (fd != __atomic_load_n (&t->timer.fd, __ATOMIC_ACQUIRE))
      r = NULL;
    else
      scope_cpu_timer_rearm (fd);
  }
  if (r) {
    guint64 head = r->head;
    if (head - __atomic_load_n (&r->tail, __ATOMIC_ACQUIRE) < SCOPE_STACK_RING) {
      copy_stack (t, &r->e[head % SCOPE_STACK_RING], FALSE);
      __atomic_store_n (&r->head, head + 1, __ATOMIC_RELEASE);
    }
  } else if (!t) {
    foreign_signal (info, context);
  }
  errno = saved;
}

/* Starts the thread's CPU timer. Under the lock, so it does not log
 * (GStreamer's log may call the application's handler): returns the errno
 * of a failure, for the caller to log once the lock is released. */
static gint
timer_arm (ScopeThread * t)
{
  if (t->timer.has_timer || !prof_interval_ns)
    return 0;
  if (!t->ring)
    __atomic_store_n (&t->ring, g_new0 (ScopeStackRing, 1), __ATOMIC_RELEASE);
  return scope_cpu_timer_start (&t->timer, t->tid, prof_signo,
      prof_interval_ns, 0);
}

static void
timer_disarm (ScopeThread * t)
{
  scope_cpu_timer_stop (&t->timer);
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
  gint err;

  t->timer.fd = -1;
  t->pend_rt = t->pend_rt_end = GST_CLOCK_TIME_NONE;
  t->tid = (gint) syscall (SYS_gettid);
  g_private_set (&thread_key, t);
  scope_thread_ptr = t;
  g_mutex_lock (&threads_lock);
  t->next = threads;
  threads = t;
  err = timer_arm (t);
  g_mutex_unlock (&threads_lock);
  if (err)
    GST_DEBUG ("no CPU timer for thread %d: %s", t->tid, g_strerror (err));
  else if (t->timer.has_timer)
    GST_LOG ("thread %d sampled by a %s", t->tid,
        scope_cpu_timer_kind (&t->timer));
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
  guint failed = 0;

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
    failed += timer_arm (t) != 0;
  g_mutex_unlock (&threads_lock);
  if (failed)
    GST_DEBUG ("%u threads have no CPU timer", failed);
  return prof_signo;
}

static guint64
monotonic_ns (void)
{
  return (guint64) g_get_monotonic_time () * 1000;
}

/* Deletes a worker thread's timer (of a live or an exited thread: both are
 * fine) and frees its slot. Under the lock. */
static void
foreign_release (ScopeForeign * f, guint64 now)
{
  scope_cpu_timer_stop (&f->timer);
  __atomic_store_n (&f->tid, 0, __ATOMIC_RELEASE);
  f->freed_at = now;
}

void
scope_profiler_stop (void)
{
  ScopeThread *t;
  guint64 now = monotonic_ns ();
  guint i;

  g_mutex_lock (&threads_lock);
  prof_interval_ns = 0;
  for (t = threads; t; t = t->next)
    timer_disarm (t);
  for (i = 0; i < SCOPE_FOREIGN_MAX; i++)
    if (foreign[i].tid)
      foreign_release (&foreign[i], now);
  g_mutex_unlock (&threads_lock);
}

gint
scope_foreign_arm (gint tid)
{
  ScopeForeign *f = NULL;
  ScopeThread *t;
  guint64 now = monotonic_ns ();
  guint i, gen;
  gint res = 0, err = 0;
  const gchar *why = NULL;

  if (tid <= 0)
    return 0;
  g_mutex_lock (&threads_lock);
  if (!prof_interval_ns || !prof_signo)
    goto out;
  for (t = threads; t; t = t->next)
    if (t->tid == tid)
      goto out;
  for (i = 0; i < SCOPE_FOREIGN_MAX; i++)
    if (foreign[i].tid == tid) {
      res = 1;
      goto out;
    }
  for (i = 0; i < SCOPE_FOREIGN_MAX && !f; i++)
    if (!foreign[i].tid && (foreign[i].freed_at == 0
            || now - foreign[i].freed_at >= FOREIGN_QUARANTINE_NS))
      f = &foreign[i];
  if (!f) {
    why = "no room to sample worker thread";
    goto out;
  }
  gen = foreign_gen = foreign_gen >= FOREIGN_GEN_MAX ? 1 : foreign_gen + 1;
  f->tail = 0;
  __atomic_store_n (&f->head, 0, __ATOMIC_RELAXED);
  __atomic_store_n (&f->gen, gen, __ATOMIC_RELEASE);
  __atomic_store_n (&f->tid, tid, __ATOMIC_RELEASE);
  err = scope_cpu_timer_start (&f->timer, tid, prof_signo, prof_interval_ns,
      (gint) ((f - foreign) | gen << 8));
  if (err) {
    /* The thread may have exited since it was listed. */
    why = "no CPU timer for worker thread";
    foreign_release (f, now);
    goto out;
  }
  res = 1;
out:
  g_mutex_unlock (&threads_lock);
  /* Logged outside the lock, which hooks take at a thread's first buffer:
   * GStreamer's log may call the application's handler. */
  if (why)
    GST_DEBUG ("%s %d%s%s", why, tid, err ? ": " : "",
        err ? g_strerror (err) : "");
  else if (res && f)
    GST_LOG ("sampling worker thread %d with a %s", tid,
        scope_cpu_timer_kind (&f->timer));
  return res;
}

guint
scope_foreign_drain (ScopeIP * out, guint max)
{
  guint i, n = 0;

  g_mutex_lock (&threads_lock);
  for (i = 0; i < SCOPE_FOREIGN_MAX && n < max; i++) {
    ScopeForeign *f = &foreign[i];
    guint64 tail, head;
    if (!f->tid)
      continue;
    tail = f->tail;
    head = __atomic_load_n (&f->head, __ATOMIC_ACQUIRE);
    for (; tail != head && n < max; tail++, n++) {
      out[n].tid = f->tid;
      out[n].ip = f->ip[tail % SCOPE_IP_RING];
    }
    __atomic_store_n (&f->tail, tail, __ATOMIC_RELEASE);
  }
  g_mutex_unlock (&threads_lock);
  return n;
}

gboolean
scope_element_charge (ScopeElement * e, guint64 id, guint64 ns)
{
  if (!e || scope_dead (e) || __atomic_load_n (&e->id, __ATOMIC_RELAXED) != id)
    return FALSE;
  __atomic_fetch_add (&e->cpu_ns, ns, __ATOMIC_RELAXED);
  return TRUE;
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
  if (n == 0 && t->pending_ns > 0 && max > 0 && (final || !t->timer.has_timer
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

  guint64 mono = monotonic_ns ();

  for (i = 0; i < n; i++) {
    guint64 now;
    s[i].other_ns = 0;
    s[i].hooked = s[i].foreign = s[i].reborn = 0;
    s[i].gone = !thread_cpu_ns (s[i].tid, &now);
    if (s[i].gone)
      continue;
    /* A smaller reading is a new thread that reused the id. The delta
     * stays in other_ns for threads without a stack; the others move it
     * to their pending CPU below. */
    s[i].reborn = now < s[i].cpu_ns;
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
        s[i].hooked = (__atomic_load_n (&t->owner, __ATOMIC_RELAXED)
            || __atomic_load_n (&t->depth, __ATOMIC_RELAXED)) ? 2 : 1;
        nout += drain (t, out + nout, max - nout, final);
        break;
      }
  /* A worker thread keeps its timer while it is listed, alive, the same
   * thread and runs no hook (a hooked thread has a timer of its own). The
   * timer tells whether its thread is the same: the kernel disarms a CPU
   * timer whose thread exited (interval zero), even if a new thread has
   * the id since, which the CPU clock's reading need not show. */
  for (guint k = 0; k < SCOPE_FOREIGN_MAX; k++) {
    ScopeForeign *f = &foreign[k];
    gboolean keep = FALSE;
    if (!f->tid)
      continue;
    for (i = 0; i < n; i++)
      if (s[i].tid == f->tid) {
        keep = !s[i].gone && !s[i].reborn && !s[i].hooked;
        if (keep && !scope_cpu_timer_same_thread (&f->timer)) {
          keep = FALSE;
          s[i].reborn = 1;
        }
        s[i].foreign = keep;
        break;
      }
    if (!keep)
      foreign_release (f, mono);
  }
  g_mutex_unlock (&threads_lock);

  for (i = 0; i < nout; i++)
    if (out[i].stack.depth > 0 && out[i].ns > 0)
      __atomic_fetch_add (&out[i].stack.frames[out[i].stack.depth - 1]->cpu_ns,
          out[i].ns, __ATOMIC_RELAXED);
  return nout;
}
