package load

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// events reads a body the way sse does and returns the data lines.
func events(t *testing.T, raw string, chunked bool, bufSize int) ([]string, error) {
	t.Helper()
	body := &bodyPieces{br: bufio.NewReaderSize(strings.NewReader(raw), bufSize), chunked: chunked}
	var got []string
	err := readEvents(body, func(data []byte) error { got = append(got, string(data)); return nil }, func() bool { return false })
	return got, err
}

func TestReadEventsAcrossChunks(t *testing.T) {
	stream := "retry: 3000\n\nid: 1\ndata: {\"a\":1}\n\n: a comment\nid: 2\ndata: {\"b\":2}\r\n\r\n"
	want := []string{`{"a":1}`, `{"b":2}`}
	// The same stream in chunks cut anywhere, one with an extension.
	chunked := "5\r\nretry\r\n" + "1A;ext=1\r\n" + stream[5:31] + "\r\n" + "1\r\n" + stream[31:32] + "\r\n"
	rest := stream[32:]
	chunked += hex(len(rest)) + "\r\n" + rest + "\r\n0\r\n\r\n"
	for _, size := range []int{16, 4096} {
		got, err := events(t, chunked, true, size)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "the body ended before a terminal event")
		require.Equal(t, want, got, "buffer of %d bytes", size)

		got, err = events(t, stream, false, size)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		require.Equal(t, want, got, "not chunked, buffer of %d bytes", size)
	}
	_, err := events(t, "zz\r\n", true, 4096)
	require.ErrorContains(t, err, "chunk size")
	_, err = events(t, "2\r\nabXY3\r\n", true, 4096)
	require.ErrorContains(t, err, "CRLF")
}

func hex(n int) string { return strconv.FormatInt(int64(n), 16) }
