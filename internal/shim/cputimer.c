/* cputimer.c: a timer on one thread's CPU time whose signal interrupts that
 * thread where it runs, the profiler's sampling clock.
 *
 * Why a perf event first. A POSIX CPU timer (timer_create on the thread's
 * CPU clock) is checked only at kernel ticks that find its thread running:
 * every 4 ms at CONFIG_HZ=250, at the same phase of the monotonic clock
 * all along. A live pipeline's work is paced by that same clock, so in each
 * run the ticks meet the pipeline's work at one fixed phase, drawn when the
 * pipeline starts. `audiotestsrc is-live=true ! queue ! scopeburn
 * cpu-us=2000 ! fakesink` (2 ms of work every 10 ms): every signal came
 * 25-60 µs after a tick; in most runs that tick fell inside the 2 ms burn
 * and every stack named scopeburn0, in about one run in five it fell at
 * the burst's edge, where the thread is in the queue's loop or the sink
 * (61 stacks in scopeburn0, 10 in queue0, 10 in fakesink0), and a quarter
 * of the burner's CPU went to its neighbours. A thread whose bursts are
 * shorter than the gap between ticks (a source, a jitterbuffer) is caught
 * only when the phase happens to fit, or never.
 *
 * A perf software event on the thread's task clock
 * (PERF_COUNT_SW_TASK_CLOCK) runs a high-resolution timer only while the
 * thread is on a CPU and keeps what is left of the period when it sleeps:
 * it fires after exactly 1/rate s of the thread's CPU time, wherever that
 * falls, in user or kernel mode. Its signal (F_SETSIG, to the thread with
 * F_SETOWN_EX) comes with si_fd. The event fires once (event_limit 1) and
 * the handler lets it fire once more (PERF_EVENT_IOC_REFRESH), so a thread
 * that blocks the signal has one signal pending, never a growing queue
 * (an overflowing queue of F_SETSIG signals becomes a SIGIO, whose default
 * action ends the process).
 *
 * perf_event_open is refused where kernel.perf_event_paranoid forbids it
 * (2 lets users measure only user mode, which would leave out the kernel
 * half of a thread's work; Debian's 3 forbids all) or a container's seccomp
 * filter does: then the POSIX timer samples, as before, with the phase
 * problem described above. The first refusal is remembered.
 */
#define _GNU_SOURCE
#include "cputimer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

/* 0: not tried yet, 1: perf events work, -1: refused. */
static gint perf_state;

/* The CPU clock of any thread of this process, by kernel thread id: what
 * pthread_getcpuclockid() returns, built from the id (the kernel's
 * MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)), because most threads here
 * were not created by code that could hand us a pthread_t. */
static clockid_t
thread_clock (gint tid)
{
  return (clockid_t) ((~(guint) tid) << 3) | 6;
}

static gint
perf_open (gint tid, gint signo, guint64 interval_ns)
{
  struct perf_event_attr a;
  struct f_owner_ex owner = { F_OWNER_TID, tid };
  gint fd;

  memset (&a, 0, sizeof a);
  a.size = sizeof a;
  a.type = PERF_TYPE_SOFTWARE;
  a.config = PERF_COUNT_SW_TASK_CLOCK;
  a.sample_period = interval_ns;
  a.disabled = 1;
  a.exclude_hv = 1;
  a.wakeup_events = 1;
  fd = (gint) syscall (SYS_perf_event_open, &a, tid, -1, -1,
      PERF_FLAG_FD_CLOEXEC);
  if (fd < 0)
    return -errno;
  if (fcntl (fd, F_SETSIG, signo) != 0
      || fcntl (fd, F_SETOWN_EX, &owner) != 0
      || fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_ASYNC) != 0
      || ioctl (fd, PERF_EVENT_IOC_REFRESH, 1) != 0) {
    gint err = errno;
    close (fd);
    return -err;
  }
  return fd;
}

static gint
posix_timer (ScopeCpuTimer * ct, gint tid, gint signo, guint64 interval_ns,
    gint value)
{
  struct sigevent sev = { 0 };
  struct itimerspec its = { {0} };

  sev.sigev_notify = signo ? SIGEV_THREAD_ID : SIGEV_NONE;
  sev.sigev_signo = signo;
  sev.sigev_notify_thread_id = tid;
  sev.sigev_value.sival_int = value;
  if (timer_create (thread_clock (tid), &sev, &ct->timer) != 0)
    return errno;
  its.it_value.tv_sec = its.it_interval.tv_sec = interval_ns / 1000000000;
  its.it_value.tv_nsec = its.it_interval.tv_nsec = interval_ns % 1000000000;
  if (timer_settime (ct->timer, 0, &its, NULL) != 0) {
    gint err = errno;
    timer_delete (ct->timer);
    return err;
  }
  ct->has_timer = TRUE;
  return 0;
}

const gchar *
scope_cpu_timer_kind (const ScopeCpuTimer * ct)
{
  return __atomic_load_n (&ct->fd, __ATOMIC_RELAXED) >= 0 ? "perf event" :
      "POSIX timer";
}

gint
scope_cpu_timer_start (ScopeCpuTimer * ct, gint tid, gint signo,
    guint64 interval_ns, gint value)
{
  gint fd = -1, err;

  ct->fd = -1;
  ct->has_timer = FALSE;
  if (g_atomic_int_get (&perf_state) >= 0) {
    fd = perf_open (tid, signo, interval_ns);
    if (fd == -EACCES || fd == -EPERM || fd == -ENOSYS || fd == -ENOENT
        || fd == -ENODEV || fd == -EOPNOTSUPP || fd == -EINVAL)
      g_atomic_int_set (&perf_state, -1);
    else if (fd >= 0)
      g_atomic_int_set (&perf_state, 1);
  }
  if (fd >= 0) {
    /* The silent timer only witnesses the thread's life: an hour apart. */
    if ((err = posix_timer (ct, tid, 0, G_GUINT64_CONSTANT (3600000000000),
                0)) != 0) {
      close (fd);
      return err;
    }
    __atomic_store_n (&ct->fd, fd, __ATOMIC_RELEASE);
    return 0;
  }
  /* A thread that exited since it was listed fails here too (ESRCH). */
  if (fd == -ESRCH)
    return ESRCH;
  return posix_timer (ct, tid, signo, interval_ns, value);
}

void
scope_cpu_timer_stop (ScopeCpuTimer * ct)
{
  gint fd = __atomic_exchange_n (&ct->fd, -1, __ATOMIC_ACQ_REL);

  /* A handler on another CPU that read the fd just before may refresh it
   * after this close: if the number was reused meanwhile, by a fd that is
   * not a perf event, the ioctl fails (no other driver uses perf's '$'
   * ioctls); if by another of our perf events, it lets that one fire once
   * more, which its own handler expects anyway. */
  if (fd >= 0)
    close (fd);
  if (ct->has_timer)
    timer_delete (ct->timer);
  ct->has_timer = FALSE;
}

/* The kernel disarms a CPU timer whose thread exited (interval zero), even
 * if a new thread has the id since, which the CPU clock's reading need not
 * show. */
gboolean
scope_cpu_timer_same_thread (ScopeCpuTimer * ct)
{
  struct itimerspec cur;

  if (!ct->has_timer || timer_gettime (ct->timer, &cur) != 0)
    return FALSE;
  return cur.it_interval.tv_sec != 0 || cur.it_interval.tv_nsec != 0;
}

gboolean
scope_cpu_timer_perf_signal (const siginfo_t * info, gint * fd)
{
  /* F_SETSIG signals carry the poll band's code: POLL_HUP once the event
   * limit is reached, POLL_IN otherwise. */
  if (info->si_code != POLL_HUP && info->si_code != POLL_IN)
    return FALSE;
  *fd = info->si_fd;
  return TRUE;
}

void
scope_cpu_timer_rearm (gint fd)
{
  ioctl (fd, PERF_EVENT_IOC_REFRESH, 1);
}
