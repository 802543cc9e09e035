package e2e

import (
	"bufio"
	"errors"
	"io"
	"time"
)

// linePipe is an io.Pipe whose first line can be awaited.
type linePipe struct {
	r     *io.PipeReader
	lines chan string
}

func newPipe() (*linePipe, *io.PipeWriter) {
	r, w := io.Pipe()
	p := &linePipe{r: r, lines: make(chan string, 1)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
	}()
	return p, w
}

func (p *linePipe) firstLine(within time.Duration) (string, error) {
	select {
	case l, ok := <-p.lines:
		if !ok {
			return "", errors.New("closed before the first line")
		}
		return l, nil
	case <-time.After(within):
		return "", errors.New("no line in time")
	}
}
