package server

import (
	"net"
	"net/http"
	"sync"
)

// limitListener keeps at most max connections open. A connection accepted
// beyond that waits for a slot, and to make one the server closes a
// kept-alive connection that is idle between requests (HTTP clients retry
// a request on such a connection): scrapers that keep connections must not
// lock others out, and only a client in the middle of a request, bounded by
// the deadlines, holds a slot.
type limitListener struct {
	net.Listener
	slots  chan struct{}
	closed chan struct{}
	once   sync.Once

	mu      sync.Mutex
	idle    map[*limitConn]struct{}
	waiting bool // Accept holds a connection for which there is no slot
}

func newLimitListener(l net.Listener, max int) *limitListener {
	return &limitListener{
		Listener: l,
		slots:    make(chan struct{}, max),
		closed:   make(chan struct{}),
		idle:     map[*limitConn]struct{}{},
	}
}

func (l *limitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	select {
	case l.slots <- struct{}{}:
	default:
		l.mu.Lock()
		l.waiting = true
		for ic := range l.idle {
			l.waiting = false
			delete(l.idle, ic)
			ic.Close()
			break
		}
		l.mu.Unlock()
		select {
		case l.slots <- struct{}{}:
		case <-l.closed:
			c.Close()
			return nil, net.ErrClosed
		}
		l.mu.Lock()
		l.waiting = false
		l.mu.Unlock()
	}
	return &limitConn{Conn: c, l: l}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// connState is the http.Server's ConnState hook: it tracks which
// connections are idle, and closes one that turns idle while a new
// connection waits for its slot.
func (l *limitListener) connState(c net.Conn, state http.ConnState) {
	lc, ok := c.(*limitConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if state != http.StateIdle {
		delete(l.idle, lc)
		return
	}
	if l.waiting {
		l.waiting = false // one slot is all the waiting Accept needs
		lc.Close()
		return
	}
	l.idle[lc] = struct{}{}
}

type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.l.slots })
	return err
}
