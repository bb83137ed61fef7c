/* cputimer.h: a timer on one thread's CPU time whose signal interrupts
 * that thread where it runs (see cputimer.c). Cold path: armed and stopped
 * under the thread registry's lock, checked by the signal handler. */
#ifndef SCOPE_CPUTIMER_H
#define SCOPE_CPUTIMER_H

#include <glib.h>
#include <signal.h>
#include <time.h>

typedef struct {
  gint fd;                      /* atomic; the perf event, -1: none */
  gboolean has_timer;           /* timer is set */
  /* Where perf events are refused, the POSIX CPU timer that samples;
   * beside a perf event, a silent one that tells whether the thread is
   * still the one it was armed for (see scope_cpu_timer_same_thread). */
  timer_t timer;
} ScopeCpuTimer;

/* Which kind samples: "perf event" or "POSIX timer", for the log. */
const gchar *scope_cpu_timer_kind (const ScopeCpuTimer * ct);
/* Arms ct on thread tid: signo every interval_ns of its CPU time, with
 * value in si_value where the POSIX timer samples. Returns 0 or an errno;
 * does not log (called under a lock). */
gint scope_cpu_timer_start (ScopeCpuTimer * ct, gint tid, gint signo,
    guint64 interval_ns, gint value);
void scope_cpu_timer_stop (ScopeCpuTimer * ct);
/* FALSE once the thread it was armed for has exited (even if a new thread
 * has the id since). */
gboolean scope_cpu_timer_same_thread (ScopeCpuTimer * ct);
/* In the signal handler: whether info comes from a perf event, and which
 * fd. */
gboolean scope_cpu_timer_perf_signal (const siginfo_t * info, gint * fd);
/* In the signal handler, after a signal of ct's perf event: lets it fire
 * once more. Async-signal-safe. */
void scope_cpu_timer_rearm (gint fd);

#endif
