package shim

/*
#include <stdlib.h>
#include <gst/gst.h>

// Parses tracer params the way GStreamer's own tracers do: as the fields of
// a structure. Returns NULL when they are not a valid structure.
static GstStructure *params_parse (const char *params)
{
  gchar *s = g_strdup_printf ("params,%s", params);
  GstStructure *st = gst_structure_from_string (s, NULL);
  g_free (s);
  return st;
}

// A field's value as text: strings as they are, anything else serialized.
static char *params_value (const GstStructure *st, guint i)
{
  const GValue *v = gst_structure_get_value (st, gst_structure_nth_field_name (st, i));
  if (G_VALUE_HOLDS_STRING (v))
    return g_strdup (g_value_get_string (v));
  return gst_value_serialize (v);
}
*/
import "C"

import (
	"strings"
	"unsafe"

	"github.com/gstscope/gstscope/internal/params"
)

// parseParams reads a tracer's params string into fields.
func parseParams(raw string) params.Params {
	p := params.Params{Fields: map[string]string{}, Raw: raw}
	if strings.TrimSpace(raw) == "" {
		return p
	}
	cs := C.CString(raw)
	defer C.free(unsafe.Pointer(cs))
	st := C.params_parse(cs)
	if st == nil {
		p.Unparsed = true
		return p
	}
	defer C.gst_structure_free(st)
	for i := C.guint(0); i < C.guint(C.gst_structure_n_fields(st)); i++ {
		name := goString(C.gst_structure_nth_field_name(st, i))
		v := C.params_value(st, i)
		if v != nil {
			p.Fields[name] = goString(v)
			C.g_free(C.gpointer(v))
		}
	}
	return p
}
