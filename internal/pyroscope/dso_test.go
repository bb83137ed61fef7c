package pyroscope

import (
	"cmp"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

const libdir = "/usr/lib/x86_64-linux-gnu/"

// The shared objects of testdata/maps.txt, as readELF would see them.
var fixtureELF = map[string]elfInfo{
	libdir + "libx264.so.164":                         {soname: "libx264.so.164", needed: []string{"libc.so.6"}},
	libdir + "libavcodec.so.59.37.100":                {soname: "libavcodec.so.59", needed: []string{"libavutil.so.57", "libx264.so.164", "libc.so.6"}},
	libdir + "libavutil.so.57.28.100":                 {soname: "libavutil.so.57", needed: []string{"libc.so.6"}},
	libdir + "libgstcodecparsers-1.0.so.0.2200.0":     {soname: "libgstcodecparsers-1.0.so.0"},
	libdir + "libgstvideo-1.0.so.0.2200.0":            {soname: "libgstvideo-1.0.so.0"},
	libdir + "libc.so.6":                              {soname: "libc.so.6"},
	"/usr/bin/python3.11":                             {needed: []string{"libc.so.6"}},
	libdir + "gstreamer-1.0/libgstx264.so":            {needed: []string{"libx264.so.164", "libgstvideo-1.0.so.0", "libc.so.6"}},
	libdir + "gstreamer-1.0/libgstlibav.so":           {needed: []string{"libavcodec.so.59", "libavutil.so.57", "libgstvideo-1.0.so.0", "libc.so.6"}},
	libdir + "gstreamer-1.0/libgstvideoparsersbad.so": {needed: []string{"libgstcodecparsers-1.0.so.0", "libgstvideo-1.0.so.0"}},
	"/opt/my plugins/libgstmine.so":                   {needed: []string{"libgstvideo-1.0.so.0"}},
}

var fixturePlugins = []Plugin{
	{"x264", libdir + "gstreamer-1.0/libgstx264.so"},
	{"libav", libdir + "gstreamer-1.0/libgstlibav.so"},
	{"videoparsersbad", libdir + "gstreamer-1.0/libgstvideoparsersbad.so"},
	{"mine", "/opt/my plugins/libgstmine.so"},
}

// fixtureLibraries reads testdata/maps.txt (or what maps holds) and the ELF
// table above; reads counts how often the mappings were read.
func fixtureLibraries(t *testing.T, maps *[]byte, reads *int) *libraries {
	t.Helper()
	b, err := os.ReadFile("testdata/maps.txt")
	if err != nil {
		t.Fatal(err)
	}
	*maps = b
	l := newLibraries(func() []Plugin { return fixturePlugins })
	l.readMaps = func() ([]byte, error) { *reads++; return *maps, nil }
	l.readELF = func(path string) (elfInfo, error) {
		if info, ok := fixtureELF[path]; ok {
			return info, nil
		}
		return elfInfo{}, errors.New("not an ELF file")
	}
	l.realpath = func(p string) (string, error) { return p, nil }
	return l
}

func TestParseMaps(t *testing.T) {
	b, err := os.ReadFile("testdata/maps.txt")
	if err != nil {
		t.Fatal(err)
	}
	ms := parseMaps(b)
	var paths []string
	for _, m := range ms {
		paths = append(paths, m.path)
	}
	want := []string{
		"/usr/bin/python3.11",
		libdir + "libx264.so.164",
		libdir + "libavcodec.so.59.37.100",
		libdir + "libavutil.so.57.28.100",
		libdir + "gstreamer-1.0/libgstx264.so",
		libdir + "gstreamer-1.0/libgstlibav.so",
		libdir + "gstreamer-1.0/libgstvideoparsersbad.so",
		libdir + "libgstcodecparsers-1.0.so.0.2200.0",
		libdir + "libgstvideo-1.0.so.0.2200.0",
		libdir + "libc.so.6",
		"/tmp/orcexec.lABnOO", // "(deleted)" dropped
		"/opt/my plugins/libgstmine.so",
		"", // anonymous rwx memory (generated code)
		"[vdso]",
	}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("executable mappings:\n got %q\nwant %q", paths, want)
	}
	if ms[1].lo != 0x7f3a14e28000 || ms[1].hi != 0x7f3a15100000 {
		t.Errorf("libx264's range = %#x-%#x", ms[1].lo, ms[1].hi)
	}
	if !slices.IsSortedFunc(ms, func(a, b mapping) int { return cmp.Compare(a.lo, b.lo) }) {
		t.Errorf("mappings not sorted: %v", ms)
	}
	if got := parseMaps([]byte("garbage\n1-2 r-xp\n\n7f-80 r-xp 0 0:0 0 /x")); len(got) != 1 || got[0].path != "/x" {
		t.Errorf("malformed lines: %v", got)
	}
}

// An address belongs to a plugin when it is in the plugin's own file or in
// a library that exactly one loaded plugin links directly. Libraries many
// plugins need (libgstvideo), the C library, the program, generated code
// and the vdso decide nothing.
func TestLibrariesPluginOf(t *testing.T) {
	var maps []byte
	reads := 0
	l := fixtureLibraries(t, &maps, &reads)
	var elfs []string
	readELF := l.readELF
	l.readELF = func(path string) (elfInfo, error) { elfs = append(elfs, path); return readELF(path) }
	now := time.Unix(1700000000, 0)
	// Only the plugins' files and the file an address is in are read.
	if got := l.pluginOf(0x7f3a14e28000, now); got != "x264" || len(elfs) != len(fixturePlugins)+1 {
		t.Errorf("pluginOf(libx264) = %q after reading %q", got, elfs)
	}
	for _, c := range []struct {
		ip   uint64
		want string
	}{
		{0x7f3a14e28000, "x264"},  // libx264: only libgstx264 links it (libavcodec, no plugin, too)
		{0x7f3a150fffff, "x264"},  // its last byte
		{0x7f3a15100000, ""},      // not executable: found nowhere
		{0x7f3a15700000, "libav"}, // libavcodec.so.59.37.100, linked as libavcodec.so.59
		{0x7f3a16400010, "libav"}, // libavutil
		{0x7f3a16600010, "x264"},  // the plugin's own file
		{0x7f3a16700010, "libav"},
		{0x7f3a16900010, "videoparsersbad"}, // libgstcodecparsers
		{0x7f3a16a00010, ""},                // libgstvideo: every video plugin links it
		{0x7f3a16b00010, ""},                // libc
		{0x55d0c0a2a010, ""},                // the program
		{0x7f3a16d00010, ""},                // orc's generated code
		{0x7f3a16e00010, "mine"},            // a path with a space
		{0x7f3a16f00010, ""},                // anonymous memory
		{0x7ffd8a3c6010, ""},                // vdso
	} {
		if got := l.pluginOf(c.ip, now); got != c.want {
			t.Errorf("pluginOf(%#x) = %q, want %q", c.ip, got, c.want)
		}
	}
	if reads != 1 {
		// The first lookup reads the mappings; the addresses found in none
		// come within mapsEvery of that.
		t.Errorf("mappings read %d times, want 1", reads)
	}
}

// Code loaded later is found once mapsEvery has passed since the last
// reading, and a plugin loaded since changes what is decisive.
func TestLibrariesRefresh(t *testing.T) {
	var maps []byte
	reads := 0
	l := fixtureLibraries(t, &maps, &reads)
	now := time.Unix(1700000000, 0)
	const vpx = 0x7f3a17000010
	if got := l.pluginOf(vpx, now); got != "" || reads != 1 {
		t.Fatalf("pluginOf(vpx) = %q after %d reads, want \"\" after 1", got, reads)
	}
	maps = append(maps, []byte("7f3a17000000-7f3a17100000 r-xp 00000000 fe:00 5 /usr/lib/libvpx.so.7.1.0\n"+
		"7f3a17200000-7f3a17210000 r-xp 00000000 fe:00 6 /usr/lib/gstreamer-1.0/libgstvpx.so\n")...)
	fixtureELF["/usr/lib/libvpx.so.7.1.0"] = elfInfo{soname: "libvpx.so.7"}
	fixtureELF["/usr/lib/gstreamer-1.0/libgstvpx.so"] = elfInfo{needed: []string{"libvpx.so.7", "libgstvideo-1.0.so.0"}}
	defer delete(fixtureELF, "/usr/lib/libvpx.so.7.1.0")
	defer delete(fixtureELF, "/usr/lib/gstreamer-1.0/libgstvpx.so")
	plugins := append(slices.Clone(fixturePlugins), Plugin{"vpx", "/usr/lib/gstreamer-1.0/libgstvpx.so"})
	l.plugins = func() []Plugin { return plugins }

	if got := l.pluginOf(vpx, now.Add(mapsEvery/2)); got != "" || reads != 1 {
		t.Errorf("pluginOf(vpx) within mapsEvery = %q after %d reads, want \"\" after 1", got, reads)
	}
	if got := l.pluginOf(vpx, now.Add(mapsEvery)); got != "vpx" || reads != 2 {
		t.Errorf("pluginOf(vpx) after mapsEvery = %q after %d reads, want vpx after 2", got, reads)
	}
	// Found addresses read nothing again.
	if got := l.pluginOf(0x7f3a14e28000, now.Add(3*mapsEvery)); got != "x264" || reads != 2 {
		t.Errorf("pluginOf(libx264) = %q after %d reads, want x264 after 2", got, reads)
	}
	// The last sample (frozen) reads nothing.
	l.frozen = true
	if got := l.pluginOf(0x1000, now.Add(5*mapsEvery)); got != "" || reads != 2 {
		t.Errorf("frozen: pluginOf = %q after %d reads, want \"\" after 2", got, reads)
	}
}

// readELF on real shared objects built for the test: the soname, and the
// libraries linked. Skipped without a C compiler.
func TestReadELF(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "a.c")
	if err := os.WriteFile(src, []byte("int codec_work (void) { return 42; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(dir, "libcodec.so.3.1")
	plugin := filepath.Join(dir, "libgstcodec.so")
	for _, args := range [][]string{
		{"-shared", "-fPIC", "-Wl,-soname,libcodec.so.3", "-o", lib, src},
		{"-shared", "-fPIC", "-o", plugin, src, "-Wl,--no-as-needed", lib},
	} {
		if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
			t.Fatalf("cc %v: %v\n%s", args, err, out)
		}
	}
	info, err := readELF(lib)
	if err != nil || info.soname != "libcodec.so.3" {
		t.Errorf("readELF(lib) = %+v, %v; want soname libcodec.so.3", info, err)
	}
	info, err = readELF(plugin)
	if err != nil || info.soname != "" || !slices.Contains(info.needed, "libcodec.so.3") {
		t.Errorf("readELF(plugin) = %+v, %v; want no soname, libcodec.so.3 needed", info, err)
	}
	if _, err := readELF(src); err == nil {
		t.Errorf("readELF of a C file: no error")
	}
}
