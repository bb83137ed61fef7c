/* mux.h: which input a muxer's output carries. Tested on their own:
 * algorithms.go.
 *
 * A muxer (mpegtsmux, matroskamux, mp4mux, flvmux, oggmux: an element of
 * class Muxer) does not make an output from all its inputs as a mixer does:
 * each output (a block, a tag, a sample, the TS packets of one PES) carries
 * the data of one input buffer, and its source-to-sink path is that
 * buffer's. Running-time spans do not tell which: a video frame's span
 * holds the audio buffers that start during it, and a collectpads muxer
 * (matroskamux, oggmux) pushes one pad's data from another pad's chain
 * call. So:
 * - a muxer that keeps its inputs' timestamps (matroskamux, flvmux, mp4mux)
 *   is matched only with the input that starts exactly at the output's
 *   running time (its block headers carry the same time), or with the same
 *   buffer;
 * - GstBaseTsMux stamps every packet with the time of its PCR stream (an
 *   audio PES gets the video's time), so its packets are known by their
 *   PID, which names the sink pad (sink_<PID>): the packet that starts a
 *   PES (payload_unit_start_indicator) carries the next input of that pad,
 *   the muxer taking each pad's buffers in order; the packets after it the
 *   same input. Tables (PAT, PMT, SI) carry no input.
 * An output matched with nothing gets no latency and no path: nothing
 * rather than a wrong one. */
#ifndef GSTSCOPE_MUX_H
#define GSTSCOPE_MUX_H

#include "match.h"

/* The input carried by a TS packet of stream pid that starts a PES (pusi)
 * or continues one, into out. The pad's ring hint is the index after the
 * input its last PES start was matched with. */
static inline gboolean
ts_input (ScopeElement * e, guint pid, gboolean pusi, ScopeRingEntry * out)
{
  gint n = MIN (g_atomic_int_get (&e->n_inputs), SCOPE_MAX_INPUTS), i;
  ScopePad *in = NULL;
  ScopeRing *r;
  guint64 head, lo, k;

  for (i = 0; i < n; i++) {
    ScopePad *p = __atomic_load_n (&e->inputs[i], __ATOMIC_ACQUIRE);
    if (p && p->pid == pid) {
      in = p;
      break;
    }
  }
  if (!in || !(r = __atomic_load_n (&in->ring, __ATOMIC_ACQUIRE)))
    return FALSE;
  head = __atomic_load_n (&r->head, __ATOMIC_ACQUIRE);
  lo = MAX (__atomic_load_n (&r->valid_from, RELAXED),
      head > ring_cap (r) ? head - ring_cap (r) : 0);
  k = __atomic_load_n (&r->hint, RELAXED);
  if (pusi) {
    /* After a flush the muxer starts again with what comes next. */
    k = MAX (k, lo);
    if (k >= head)
      return FALSE;
    ring_matched (r, k + 1);
  } else {
    if (k == 0 || k - 1 < lo || k - 1 >= head)
      return FALSE;
    k--;
  }
  return ring_read (r, k, out);
}

/* The PID and payload_unit_start_indicator of the TS packet header h
 * (4 bytes); FALSE if it is no packet header. */
static inline gboolean
ts_header (const guint8 * h, guint * pid, gboolean * pusi)
{
  if (h[0] != 0x47)
    return FALSE;
  *pid = ((guint) (h[1] & 0x1f) << 8) | h[2];
  *pusi = (h[1] & 0x40) != 0;
  return TRUE;
}

#endif
