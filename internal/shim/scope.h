/* scope.h: the C side of gstscope, shared by the plugin descriptor, the
 * tracer types, the per-buffer hooks (hooks.c) and the slot store (store.c).
 *
 * The hot path writes plain counters and histograms that live in "slots":
 * one ScopeElement per element, one ScopePad per pad, found through qdata on
 * the GStreamer object. Slots are created on first sight (cold path, under
 * scope_lock). They are marked dead when their object leaves its pipeline or
 * is finalized; the snapshot skips dead slots, which deletes their series.
 *
 * Slot memory is never returned to the system, only reused for a new object
 * of the same type: a slot pointer held by a hook, a thread stack or a ring
 * therefore never dangles (it points to a slot, perhaps another object's,
 * never to freed memory), and the store is as large as the most objects
 * alive at once, not as all objects ever created. A slot whose object was
 * finalized ("gone": no hook can run on it any more) is reused after the
 * next sweep; one whose object was removed but may still run hooks (an
 * element out of its bin, still referenced) waits SCOPE_QUARANTINE_NS. Each slot has a generation, bumped at reuse,
 * so that the caches keyed by object address (qdata tags, the threads' pad
 * caches) never take a reused slot for the one they remember.
 */
#ifndef GSTSCOPE_SCOPE_H
#define GSTSCOPE_SCOPE_H

#include <gst/gst.h>
#include <time.h>

#include "cputimer.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_scope_debug);
#define GST_CAT_DEFAULT gst_scope_debug

/* What the latency tracer measures; set from the tracer's flags. With no
 * latency tracer (scope_flags == 0) the hooks only keep the thread stacks
 * the pyroscope tracer samples. */
enum {
  SCOPE_FLAG_PIPELINE = 1 << 0,
  SCOPE_FLAG_ELEMENT = 1 << 1,
  SCOPE_FLAG_REPORTED = 1 << 2,
  SCOPE_FLAG_LATENCY = 1 << 3,  /* the latency tracer runs: count pads */
  SCOPE_FLAG_FILE = 1 << 4,     /* it writes a file: at EOS, at shutdown */
};

/* A slot's state word: its generation << 2 | gone | dead. One word, so that
 * a finalized object can mark its slot dead and gone with a compare-and-swap
 * that fails if the slot was meanwhile reused (see store.c). */
#define SCOPE_DEAD G_GUINT64_CONSTANT (1)
#define SCOPE_GONE G_GUINT64_CONSTANT (2)       /* its object was finalized */
#define scope_state(slot) __atomic_load_n (&(slot)->state, __ATOMIC_ACQUIRE)
#define scope_dead(slot) ((scope_state (slot) & SCOPE_DEAD) != 0)
/* How long a dead slot whose object lives on waits before reuse: longer
 * than any hook holds it. */
#define SCOPE_QUARANTINE_NS (2 * GST_SECOND)

/* Data written by different threads sits on different cache lines: a line
 * shared by two writers bounces between their cores on every buffer. Slots
 * and rings are allocated with this alignment (scope_alloc). */
#define SCOPE_CACHE_LINE 64
#define scope_alloc(type) \
    ((type *) g_aligned_alloc0 (1, sizeof (type), SCOPE_CACHE_LINE))

/* Histogram bucket upper bounds in nanoseconds (1 us .. 10 s), plus +Inf. */
#define SCOPE_NBOUNDS 22
#define SCOPE_NBUCKETS (SCOPE_NBOUNDS + 1)
extern const guint64 scope_bounds_ns[SCOPE_NBOUNDS];

typedef struct {
  guint64 counts[SCOPE_NBUCKETS];       /* per bucket, not cumulative */
  guint64 sum_ns;
} __attribute__ ((aligned (SCOPE_CACHE_LINE))) ScopeHist;

/* The buffers that entered a sink pad, newest last, for matching each output
 * of the element with the input that carried its first sample (see match.h).
 * One producer (the pad's streaming thread); any number of readers (the
 * element's output threads), which never write an entry: each entry carries
 * the sequence number it was written at, set last, so that a reader can tell
 * an entry being overwritten from a whole one. Buffers are compared by
 * identity and by running time, never dereferenced.
 *
 * Sized by need: a ring starts with SCOPE_RING_MIN entries and doubles, up
 * to SCOPE_RING_MAX, when the element may hold more than it keeps (see
 * ring_record in match.h). The producer grows it into a new ring with a copy
 * of what the old one holds, and publishes it in the pad's slot; a reader
 * may still be reading the old one, which therefore stays with the pad until
 * the pad's slot is reused (store.c), as a slot does. Most elements output
 * each input while processing it and keep the smallest ring (1.2 kB). */
#define SCOPE_RING_MIN 16
#define SCOPE_RING_MAX 512
/* The size a new pad's ring starts at: SCOPE_RING_MIN (a variable so
 * that a build can try others). Under scope_lock. */
extern guint64 scope_ring_start;
#define SCOPE_RING_CLASSES 6    /* sizes 16 << 0 .. 16 << 5 */
typedef struct _ScopeElement ScopeElement;
typedef struct {
  guint64 seq;                  /* atomic: index + 1 once written, 0 meanwhile */
  gconstpointer buf;
  guint64 size;
  gconstpointer mem;            /* its first GstMemory, compared only;
                                 * NULL: not recorded */
  guint64 rt, rt_end;           /* running time; rt_end NONE: no duration */
  guint64 ts, origin_ts;
  ScopeElement *origin;
} ScopeRingEntry;
typedef struct _ScopeRing ScopeRing;
#define SCOPE_MEM_ALWAYS 1
#define SCOPE_MEM_FIRST 2
struct _ScopeRing {
  /* The producer's line; mask is fixed for the ring's life. */
  guint64 head __attribute__ ((aligned (SCOPE_CACHE_LINE)));
  guint64 valid_from;           /* atomic: older entries predate a flush */
  guint64 mask;                 /* entries - 1 */
  guint64 quarter;              /* entries / 4 - 1: ring_record looks when
                                 * (head & quarter) == 0 */
  /* The store's, under scope_lock: the rings the pad used before this one,
   * and the free list. */
  ScopeRing *older, *next_free;
  /* The readers' line. hint: the index after the input the element's last
   * output was matched with (where a queue's next output is), which tells
   * the producer how many inputs the element may still hold. */
  guint64 hint __attribute__ ((aligned (SCOPE_CACHE_LINE)));
  gint want;                    /* atomic: a reader found it too short */
  /* atomic: whether entries record their first memory (see same_buffer in
   * match.h): SCOPE_MEM_FIRST until the element's first output was matched
   * (what it holds before may come out re-stamped), SCOPE_MEM_ALWAYS once a
   * reader saw it re-stamp, else 0. */
  gint want_mem;
  ScopeRingEntry e[] __attribute__ ((aligned (SCOPE_CACHE_LINE)));
};

/* Sink lateness (flow.c): bucket upper bounds in nanoseconds, signed
 * (negative: the buffer was early), plus +Inf. */
#define SCOPE_LATE_NBOUNDS 23
#define SCOPE_LATE_NBUCKETS (SCOPE_LATE_NBOUNDS + 1)
extern const gint64 scope_late_bounds_ns[SCOPE_LATE_NBOUNDS];

typedef struct {
  guint64 counts[SCOPE_LATE_NBUCKETS];  /* per bucket, not cumulative */
  guint64 sum_ns;               /* a gint64 sum, added as two's complement */
} __attribute__ ((aligned (SCOPE_CACHE_LINE))) ScopeLateHist;

#define SCOPE_MAX_INPUTS 8
#define SCOPE_MAX_NESTING 32    /* bins in bins, as far as labels go */
#define SCOPE_MAX_PATHS 8

typedef struct {
  ScopeElement *source;         /* claimed once with a CAS */
  ScopeHist hist;
} ScopePath;

/* A mixer (a GstVideoAggregator or GstAudioAggregator: compositor,
 * audiomixer, audiointerleave) makes each output from all its inputs, so
 * an output has one origin per input: the origin of the input buffer whose
 * running-time span holds the output's start, on each input that had one.
 * The mixer writes them to a ring of its own, and the output carries a
 * reference to its entry (a tagged pointer, see hooks.c) where other
 * buffers carry their one origin. An entry overwritten before the output
 * reaches a sink (SCOPE_MIX_RING outputs later) is lost to the paths. */
#define SCOPE_MIX_RING 64
#define SCOPE_MIX_TAG ((guintptr) 1)
typedef struct {
  guint64 seq;                  /* atomic: index + 1 once written, 0 meanwhile */
  guint n;
  guint64 origin_ts[SCOPE_MAX_INPUTS];
  ScopeElement *origin[SCOPE_MAX_INPUTS];
} ScopeMixEntry;
typedef struct {
  guint64 head;                 /* the mixer's output thread only */
  ScopeMixEntry e[SCOPE_MIX_RING];
} ScopeMix;

/* A muxer (an element of class Muxer: mpegtsmux, matroskamux, mp4mux,
 * flvmux, oggmux...) puts one input's data in each output: see mux.h. */
#define SCOPE_MUXER 1           /* outputs keep their input's timestamps */
#define SCOPE_MUXER_TS 2        /* MPEG-TS packets: the PID tells the input */

typedef struct _ScopePad ScopePad;
/* A queue's counts (queue.h), and the queues of a queue element (queue.c). */
typedef struct _ScopeQueue ScopeQueue;
typedef struct _ScopeQueues ScopeQueues;

struct __attribute__ ((aligned (SCOPE_CACHE_LINE))) _ScopeElement {
  guint64 state;                /* atomic: generation << 2 | gone | dead */
  /* Cold, under scope_lock: the store's lists. */
  ScopeElement *next;
  guint64 dead_since;           /* when the store found it dead */
  ScopeMix *mix;                /* a mixer's, kept with the slot; or NULL */
  ScopeQueues *queues;          /* a queue's, kept with the slot; or NULL */
  /* Reset at reuse: everything from here on. */
  guint64 id;                   /* unique for the life of the process */
  gboolean is_source, is_sink, is_bin;
  gboolean is_mixer;            /* outputs carry a ScopeMix entry */
  gboolean is_queue;            /* queue, queue2, multiqueue: see queue.h */
  gint muxer;                   /* SCOPE_MUXER*, see mux.h; 0: none */
  /* Labels, under scope_lock: the element's own name and its parent bin's
   * slot, learnt without GStreamer's locks (store.c); the pipeline and path
   * labels are made from them when they are read. */
  gchar *name, *factory;
  ScopeElement *parent;
  ScopeHist proc;               /* exclusive processing time per buffer */
  ScopeHist lat;                /* entry to exit per buffer */
  guint64 lat_last_ns;
  /* Its latest LATENCY answer (reported.c), under a sequence lock: odd
   * while written, 0 before the first. rep_max NONE: unbounded. */
  guint rep_seq;
  gboolean rep_live;
  guint64 rep_min, rep_max;
  ScopePad *inputs[SCOPE_MAX_INPUTS];   /* atomic; sink pads, NULL: gone */
  gint n_inputs;                /* atomic; entries used so far */
  ScopePath paths[SCOPE_MAX_PATHS];     /* for sinks: one per source */
  guint64 cpu_ns;               /* thread CPU the sampler charged to it */
  /* Flow health (flow.c). fifo: a queue, which outputs its inputs in
   * order, so that an input its output skipped was dropped (match.h).
   * dropped: buffers it received and did not pass on, as far as known;
   * drops_known: it can tell (a queue, or it posted a drop count).
   * qos_dropped: the dropped count of its last QoS message (counts start
   * again at 0 after a flush or a new segment). late: for sinks, how late
   * each buffer rendered or dropped was, from their QoS events. */
  gboolean fifo;
  guint64 fifo_unmatched;       /* outputs since the last match that matched
                                 * no input (queue's src thread only) */
  gint drops_known;             /* atomic */
  guint64 dropped;              /* atomic */
  guint64 qos_dropped;          /* atomic */
  ScopeLateHist late;
};

struct __attribute__ ((aligned (SCOPE_CACHE_LINE))) _ScopePad {
  guint64 state;                /* atomic: generation << 2 | gone | dead */
  ScopePad *next;               /* cold, under scope_lock */
  guint64 dead_since;
  ScopeRing *ring_mem;          /* its newest ring, NULL until needed; older
                                 * ones hang from it (ScopeRing.older) */
  /* Reset at reuse: everything from here on. */
  gboolean transparent;         /* ghost and proxy pads: not an element's */
  /* transparent, or a queue's (queue set): the push and chain hooks test
   * this one field and take their rare path for both, so that the pads
   * of other elements pay nothing for queues. Set before the slot is
   * published. */
  gboolean unusual;
  gboolean orphan;              /* made before the pad had a parent */
  gboolean sink;
  guint pid;                    /* a TS muxer's sink pad: its stream's PID */
  ScopeElement *elem;           /* never NULL; a dead one for ghost pads */
  gchar *name;
  guint64 buffers, bytes;
  ScopeRing *ring;              /* sink pads of elements that output */
  ScopeQueue *queue;            /* a queue element's pads: their queue */
  /* Links, learnt at pad-link-post (atomic): the peer, and for ghost pads
   * and their internal proxy pads the other one of the pair, to look
   * through bins without asking GStreamer on a streaming thread. */
  ScopePad *peer;
  ScopePad *other;
  /* The last SEGMENT event pushed on this (src) pad, written by the thread
   * that pushes it under a sequence lock: odd while being written. For
   * the common segment (TIME, rate 1) the running time of a position in
   * [seg_lo, seg_hi] is position + seg_delta (see runningtime.h). */
  guint seg_seq;
  gboolean seg_fast;
  guint64 seg_lo, seg_hi, seg_delta;
  GstSegment seg;
};

/* store.c: the cold path. */
extern GMutex scope_lock;
extern gint scope_flags;        /* atomic; 0 when no latency tracer runs */
/* The pad's live slot, made if needed; state: the slot's state now.
 * Never takes a GStreamer lock (see store.c): safe on any thread. */
ScopePad *scope_pad_lookup (GstPad * pad, guint64 * state);
/* Structural hooks: what the store learns where it is safe to. */
void scope_element_learn (GstElement * element);
void scope_pads_linked (GstPad * src, GstPad * sink, gboolean linked);
void scope_element_removed (GstElement * element);
void scope_pad_added (GstElement * element, GstPad * pad);
void scope_pad_removed (GstPad * pad);
/* The element downstream of src pad p, through ghost pads, or NULL. */
ScopeElement *scope_pad_downstream (ScopePad * p);
/* The live slot of element, or NULL: never makes one, takes no lock of
 * GStreamer's. */
ScopeElement *scope_element_find (GstElement * element);
/* Rings (store.c keeps their memory). A new ring for pad p, which owns it
 * from then on; under scope_lock. */
ScopeRing *scope_ring_new_locked (ScopePad * p);
/* The rings of p go to the free lists (p's slot is being reused, or a
 * test's pad freed); under scope_lock. */
void scope_rings_release_locked (ScopePad * p);
/* Called by the producer of ring r, p's current ring: grows it (twice the
 * entries) and publishes the new one in p->ring. Takes scope_lock; rare (at
 * most log2(SCOPE_RING_MAX / SCOPE_RING_MIN) times in a pad's life). */
void scope_ring_grow (ScopePad * p, ScopeRing * r);
extern GQuark scope_slot_quark;

/* hooks.c: the hot path. Registered once, by the first tracer constructed;
 * a later one registers a no-op hook instead, because GStreamer keeps a
 * tracer alive (and lists it in gst_tracing_get_active_tracers()) only
 * through its hooks. */
void scope_hooks_register (GstTracer * tracer);
/* TRUE in gst-inspect-1.0, which constructs a tracer only to print its
 * type: the tracers then start nothing (no server, file, profiling or
 * upload) and say why in the log. */
gboolean scope_only_inspected (GstTracer * tracer);

/* threads.c: what each thread is doing, for the pyroscope profiler.
 *
 * A thread's stack has one frame per chain or getrange function it is
 * inside; its owner is the element whose task runs it (the last element it
 * pushed from outside any chain: a source, a queue, an aggregator). The
 * thread itself writes them with relaxed atomics. They are read by the
 * thread's profiling signal (below) and by the sampler thread, which may see
 * a stack a frame early or late, never freed memory (slots are only reused).
 */
#define SCOPE_MAX_DEPTH 64
#define SCOPE_SAMPLE_DEPTH 32
/* The per-thread pad cache: 4-way sets, so that a thread's pads (a few to
 * a few tens) fit without two evicting each other on every buffer, as they
 * did direct-mapped: with 8 pads in 64 entries, one build in three had a
 * pair colliding, +180 instructions per push. */
#define SCOPE_PAD_SET_BITS 5
#define SCOPE_PAD_WAYS 4

typedef struct {
  gconstpointer gstpad;         /* compared with the post hook's pad only */
  ScopeElement *elem;           /* atomic; NULL for ghost and proxy pads */
  ScopePad *pad;
  guint64 start, child, origin_ts;
  ScopeElement *origin;
  gconstpointer buf;            /* the input, compared only */
  guint64 rt, rt_end;           /* its running time (NONE: unknown) */
  guint64 idx;                  /* its entry in pad's ring + 1, or 0 */
  guint n;
} ScopeFrame;

/* The stacks a thread's profiling signal recorded, for the sampler: single
 * producer (the signal handler on the thread), single consumer. */
#define SCOPE_STACK_RING 32
typedef struct {
  guint depth;
  ScopeElement *frames[SCOPE_SAMPLE_DEPTH];
} ScopeStack;
typedef struct {
  guint64 head, tail;
  ScopeStack e[SCOPE_STACK_RING];
} ScopeStackRing;

typedef struct _ScopeThread ScopeThread;
struct _ScopeThread {
  guint depth;                  /* atomic; may exceed SCOPE_MAX_DEPTH */
  ScopeElement *owner;          /* atomic */
  /* The buffer being pushed, for the peer's chain-pre: its origin and its
   * running time on the pushing pad. */
  guint64 pend_ts, pend_rt, pend_rt_end;
  ScopeElement *pend_src;
  /* ... and its size, which the peer's chain-pre need not ask again. */
  gconstpointer pend_buf;
  gsize pend_size;
  /* The element running this task, for its processing (see hooks.c):
   * when its last push returned (0: not yet), the time spent since in
   * pulls, and its CPU clock then (0: not read). */
  ScopeElement *task_owner;
  guint64 task_idle, task_child, task_cpu;
  gboolean task_slow;
  /* EOS went downstream on this thread: buffers pushed outside any chain
   * now come from an element draining at EOS, not from the task. */
  gboolean draining;
  /* Pull mode: what the element running this task pulled last. */
  ScopeElement *task_elem;
  guint64 task_ts, task_origin_ts;
  ScopeElement *task_src;
  ScopeFrame f[SCOPE_MAX_DEPTH];
  /* Pad -> slot, set-associative: a hit spares the qdata lookup (a lock
   * and a list walk). The pad pointer is only compared. A hit needs the
   * slot's state unchanged since it was cached: a slot whose pad was
   * finalized is dead, a reused one has another generation, so a new pad at
   * the same address is never taken for the old one. A miss makes room at
   * the front of its set; a hit leaves the set as it is. */
  struct {
    gconstpointer pad[SCOPE_PAD_WAYS];
    ScopePad *slot[SCOPE_PAD_WAYS];
    guint64 state[SCOPE_PAD_WAYS];      /* the slot's state when cached */
  } pc[1 << SCOPE_PAD_SET_BITS];
  /* Profiling, under the registry lock unless noted. */
  gint tid;                     /* the kernel's thread id */
  ScopeCpuTimer timer;          /* fires every 1/rate s of this thread's CPU */
  ScopeStackRing *ring;         /* atomic: the handler reads it */
  guint64 pending_ns;           /* CPU not yet matched with a stack */
  guint64 cpu_seen_ns;          /* the sampler's last reading of its clock */
  ScopeThread *next;            /* the registry */
};

/* The calling thread's stack, created on its first hook. Go links the
 * library for static TLS, which has room for a pointer but not for the
 * stack itself: the stack is on the heap and freed at thread exit. */
extern __thread ScopeThread *scope_thread_ptr
    __attribute__ ((tls_model ("initial-exec")));
ScopeThread *scope_thread_new (void);

static inline ScopeThread *
scope_thread (void)
{
  ScopeThread *t = scope_thread_ptr;
  if (G_UNLIKELY (!t))
    t = scope_thread_new ();
  return t;
}

/* Profiling: each thread with a stack gets a timer on its own CPU clock
 * whose signal records the stack it interrupts, so CPU is charged where it
 * was spent, not where the thread happens to wait when the sampler looks.
 * Returns the signal used, or -1 (then the sampler's view is used). */
gint scope_profiler_start (guint hz, gchar ** why);
void scope_profiler_stop (void);

/* One thread at one sample. */
typedef struct {
  gint tid;                     /* in */
  guint64 cpu_ns;               /* in: the last reading (0: none); out: now */
  gint gone;                    /* out: the thread has exited */
  guint64 other_ns;             /* out: CPU of a thread in no element */
  /* Worker threads (see the block below). */
  gint hooked;                  /* out: 1 runs hooks, 2 also streams */
  gint foreign;                 /* out: armed with scope_foreign_arm */
  gint reborn;                  /* out: a new thread has the id */
} ScopeSample;

/* CPU time spent in one stack (depth 0: in no element). */
typedef struct {
  gint tid;
  guint64 ns;
  ScopeStack stack;
} ScopeCharge;

/* Reads the CPU clock of each thread in s, matches the CPU with the stacks
 * its signal recorded and charges it to the innermost element. Writes at
 * most max charges to out and returns their number. final: charge what is
 * left to the current stacks. Cold path: called by the sampler only. */
guint scope_sample (ScopeSample * s, guint n, ScopeCharge * out, guint max,
    gboolean final);
/* A slot about to be reused is no thread's owner any more. */
void scope_threads_forget (ScopeElement * e);
/* The id and copies of the names of e, read under scope_lock (a slot's
 * names change at reuse): the sampler's view of a stack frame. */
guint64 scope_element_names (ScopeElement * e, gchar ** pipeline,
    gchar ** path, gchar ** factory);
extern gint scope_sampling;     /* atomic: a sampler charges cpu_ns */

/* ---- Worker threads: threads that run no hook (threads.c) ----
 * Codec libraries run threads of their own (x264's and libav's frame
 * threads, libvpx's), which never run a hook and inherit the name of the
 * streaming thread that created them. The sampler arms a CPU timer on such
 * a thread too; its signal, finding no ScopeThread, records the interrupted
 * instruction pointer, which Go maps to a library, a plugin and an element.
 * Cold path only: nothing here runs per buffer. */
#define SCOPE_FOREIGN_MAX 128   /* worker threads armed at once */
#define SCOPE_IP_RING 32        /* instruction pointers per thread */

/* One instruction pointer a worker thread's timer caught. */
typedef struct {
  gint tid;
  guint64 ip;
} ScopeIP;

/* Arms a CPU timer on thread tid, which runs no hook, while profiling.
 * Returns 1 when armed (or already), 0 when not: a hooked thread, no room,
 * no profiling, a failed timer_create. scope_sample releases the timer when
 * the thread exits, runs a hook, or is no longer listed. */
gint scope_foreign_arm (gint tid);
/* Moves the instruction pointers recorded since the last call to out
 * (at most max) and returns their number. */
guint scope_foreign_drain (ScopeIP * out, guint max);
/* Adds ns to e's cpu_ns, unless e's slot is dead or no longer element id:
 * FALSE then. */
gboolean scope_element_charge (ScopeElement * e, guint64 id, guint64 ns);

/* The snapshot Go reads at scrape time: plain structs and copied strings. */
typedef struct {
  gchar *pipeline, *element, *factory;
  ScopeHist proc, lat;
  guint64 lat_last_ns;
  /* Reported latency: set when the element's latest answer is live; its
   * shares are >= 0, rep_max_ns G_MAXINT64 when unbounded or unknown. */
  gint rep_set;
  gint64 rep_min_ns, rep_max_ns;
  guint64 cpu_ns;
  /* Flow health: dropped is meaningful when drops_known. */
  gint drops_known;
  guint64 dropped;
  ScopeLateHist late;
} ScopeElementStat;

/* sink: a sink pad. For a src pad, the element (its path label) and pad
 * the data goes to, through ghost pads; NULL when unlinked. */
typedef struct {
  gchar *pipeline, *element, *pad;
  guint64 buffers, bytes;
  gboolean sink;
  gchar *peer_element, *peer_pad;
} ScopePadStat;

typedef struct {
  gchar *pipeline, *source, *sink;
  ScopeHist hist;
} ScopePathStat;

/* One queue of a queue element (queue.h): its level now, and the time the
 * upstream thread waited for room in it. queue: "sink:src", or a
 * multiqueue's pad pair "sink_N:src_N". */
typedef struct {
  gchar *pipeline, *element, *factory, *queue;
  guint64 buffers, bytes, time_ns, blocked_ns;
} ScopeQueueStat;

typedef struct {
  ScopeElementStat *elements;
  guint n_elements;
  ScopePadStat *pads;
  guint n_pads;
  ScopePathStat *paths;
  guint n_paths;
  ScopeQueueStat *queues;
  guint n_queues;
  gboolean cpu;                 /* cpu_ns is sampled */
} ScopeSnapshot;

ScopeSnapshot *scope_snapshot (void);
/* store.c: element is of one of the types named (NULL-terminated). */
gboolean scope_is_a_named (GstElement * element, const gchar * const *names);
/* queue.c: queue elements (cold path). */
gboolean scope_is_queue (GstElement * element);
/* e is a queue element (new, or its slot reused): its queues start empty. */
void scope_queues_setup_locked (ScopeElement * e);
/* The queue that pad p of queue element e (named name) belongs to. */
void scope_queue_attach_locked (ScopeElement * e, ScopePad * p,
    const gchar * name);
/* Appends the live queues of e to out (ScopeQueueStat), with e's labels. */
void scope_queues_snapshot_locked (ScopeElement * e, GArray * out,
    const gchar * pipeline, const gchar * element, const gchar * factory);
/* A leaky queue e dropped the inputs [from, to) of its sink pad's ring r
 * (found by the matching, match.h): they leave its level. */
void scope_queue_dropped (ScopeElement * e, ScopeRing * r, guint64 from,
    guint64 to);
/* The queue element stops or starts streaming: it is empty. */
void scope_queues_stopped (GstElement * element);
/* reported.c: the hooks that record LATENCY answers, and an element's
 * share of them (rep_* of st), computed at snapshot time under scope_lock. */
void scope_reported_register (GstTracer * tracer);
void scope_reported_share (ScopeElement * e, ScopeElementStat * st);
void scope_snapshot_free (ScopeSnapshot * s);

/* flow.c: drops and sink lateness, from the QoS messages and events
 * elements post and send (never per buffer: a QoS event per buffer only
 * where a sink has qos on). The message hook; the QoS event that sink pad
 * p sends upstream (from the event hook, hooks.c). */
void scope_flow_register (GstTracer * tracer);
void scope_flow_qos_event (ScopePad * p, GstEvent * ev);
/* Queue e pushes EOS: it has output all it kept, so what entered after its
 * last output was dropped (leaky=upstream drops the newest). */
void scope_flow_fifo_eos (ScopeElement * e);

/* latency_tracer.c: the metrics file is written now (SCOPE_FLAG_FILE): a
 * sink got EOS, or a pipeline shuts down. */
void scope_latency_checkpoint (void);

/* log.c helper for Go: one GStreamer log line in the gstscope category. */
void scope_log (gint level, gpointer object, const gchar * msg);

G_END_DECLS

#endif
