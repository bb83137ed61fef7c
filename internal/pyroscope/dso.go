package pyroscope

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Plugin is a loaded GStreamer plugin: its name (as element factories name
// their plugin) and its file.
type Plugin struct {
	Name, File string
}

// elfInfo is what a shared object says about itself: its DT_SONAME and its
// DT_NEEDED entries.
type elfInfo struct {
	soname string
	needed []string
}

func readELF(path string) (elfInfo, error) {
	f, err := elf.Open(path)
	if err != nil {
		return elfInfo{}, err
	}
	defer f.Close()
	var info elfInfo
	if names, err := f.DynString(elf.DT_SONAME); err == nil && len(names) > 0 {
		info.soname = names[0]
	}
	info.needed, _ = f.ImportedLibraries()
	return info, nil
}

func readMaps() ([]byte, error) { return os.ReadFile("/proc/self/maps") }

// mapping is one executable mapping of the process: [lo, hi) and its file
// ("" for anonymous memory, "[vdso]" and the like).
type mapping struct {
	lo, hi uint64
	path   string
}

// parseMaps reads the executable mappings from /proc/self/maps, sorted.
func parseMaps(b []byte) []mapping {
	var ms []mapping
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		// address perms offset dev inode [path]; the path may hold spaces.
		var f [5][]byte
		rest := line
		ok := true
		for i := range f {
			rest = bytes.TrimLeft(rest, " ")
			j := bytes.IndexByte(rest, ' ')
			if j < 0 {
				j = len(rest)
				ok = ok && i == len(f)-1
			}
			f[i], rest = rest[:j], rest[j:]
		}
		if !ok || len(f[1]) < 3 || f[1][2] != 'x' {
			continue
		}
		dash := bytes.IndexByte(f[0], '-')
		if dash < 0 {
			continue
		}
		lo, err1 := strconv.ParseUint(string(f[0][:dash]), 16, 64)
		hi, err2 := strconv.ParseUint(string(f[0][dash+1:]), 16, 64)
		if err1 != nil || err2 != nil || hi <= lo {
			continue
		}
		path := string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" (deleted)")))
		ms = append(ms, mapping{lo, hi, path})
	}
	slices.SortFunc(ms, func(a, b mapping) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	return ms
}

// mapsEvery bounds how often the mappings are read again for an address
// found in none (code loaded since, or generated at run time).
const mapsEvery = time.Second

// maxELFCache bounds the cache of shared objects read: generated code
// (orc) comes in files of its own.
const maxELFCache = 4096

// libraries tells which plugin an instruction address belongs to: the
// plugin's own file, or a library that exactly one loaded plugin links
// directly (DT_NEEDED), so libx264.so.164 is x264's, libavcodec.so.59
// libav's, and libgstvideo or GLib, which many plugins need, nobody's.
type libraries struct {
	maps     []mapping
	owner    map[string]string   // mapped file -> its plugin, "" for none
	files    map[string]string   // a loaded plugin's file -> its name
	neededBy map[string][]string // a library -> the loaded plugins linking it
	elfs     map[string]elfInfo
	read     time.Time // when the mappings were last read
	readMaps func() ([]byte, error)
	readELF  func(string) (elfInfo, error)
	realpath func(string) (string, error)
	plugins  func() []Plugin
	frozen   bool // no refresh: only what was read before
}

func newLibraries(plugins func() []Plugin) *libraries {
	return &libraries{
		owner: map[string]string{}, elfs: map[string]elfInfo{},
		readMaps: readMaps, readELF: readELF, realpath: filepath.EvalSymlinks, plugins: plugins,
	}
}

// pluginOf is the plugin whose code runs at ip, or "" when none decides
// (shared libraries, the C library, anonymous memory).
func (l *libraries) pluginOf(ip uint64, now time.Time) string {
	m, ok := l.find(ip)
	if !ok && !l.frozen && (l.read.IsZero() || now.Sub(l.read) >= mapsEvery || now.Before(l.read)) {
		l.refresh(now)
		m, ok = l.find(ip)
	}
	if !ok || m.path == "" || m.path[0] != '/' {
		return ""
	}
	owner, ok := l.owner[m.path]
	if !ok {
		owner = l.files[m.path]
		if owner == "" {
			// DT_NEEDED names a library by its soname; the mapped file may
			// have a longer name the soname links to (libavcodec.so.59 ->
			// libavcodec.so.59.37.100).
			name := l.info(m.path).soname
			if name == "" {
				name = filepath.Base(m.path)
			}
			if by := l.neededBy[name]; len(by) == 1 {
				owner = by[0]
			}
		}
		l.owner[m.path] = owner
	}
	return owner
}

func (l *libraries) find(ip uint64) (mapping, bool) {
	i, _ := slices.BinarySearchFunc(l.maps, ip, func(m mapping, ip uint64) int {
		switch {
		case m.hi <= ip:
			return -1
		case m.lo > ip:
			return 1
		}
		return 0
	})
	if i < len(l.maps) && l.maps[i].lo <= ip && ip < l.maps[i].hi {
		return l.maps[i], true
	}
	return mapping{}, false
}

func (l *libraries) info(path string) elfInfo {
	if info, ok := l.elfs[path]; ok {
		return info
	}
	if len(l.elfs) >= maxELFCache {
		clear(l.elfs)
	}
	info, _ := l.readELF(path) // not an ELF file: no name, needs nothing
	l.elfs[path] = info
	return info
}

// refresh reads the mappings and the loaded plugins again. Which plugin a
// file belongs to is decided when an address is first found in it: only the
// plugins' and those files' ELF headers are read, not those of every
// library mapped.
func (l *libraries) refresh(now time.Time) {
	l.read = now
	b, err := l.readMaps()
	if err != nil {
		return
	}
	l.maps = parseMaps(b)
	l.files, l.neededBy = map[string]string{}, map[string][]string{}
	for _, p := range l.plugins() {
		if p.File == "" {
			continue
		}
		file := p.File
		if real, err := l.realpath(file); err == nil {
			file = real
		}
		l.files[file] = p.Name
		for _, lib := range l.info(file).needed {
			if !slices.Contains(l.neededBy[lib], p.Name) {
				l.neededBy[lib] = append(l.neededBy[lib], p.Name)
			}
		}
	}
	clear(l.owner)
}
