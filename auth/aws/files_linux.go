package aws

import (
	"errors"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// memCopy holds data in an anonymous in-memory file and returns a path
// that opens it (/proc/self/fd/N) for as long as the returned Closer is
// open: the SDK, which takes only paths, then reads exactly the bytes that
// were checked, whatever happens to the original file meanwhile.
func memCopy(name string, data []byte) (string, io.Closer, error) {
	fd, err := unix.MemfdCreate("byokcred-aws-"+name, unix.MFD_CLOEXEC)
	if err != nil {
		return "", nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", nil, err
	}
	path := "/proc/self/fd/" + strconv.Itoa(fd)
	// Without /proc (some sandboxes) the path would not open.
	if fi, err := os.Stat(path); err != nil || fi.Size() != int64(len(data)) {
		f.Close()
		return "", nil, errors.New("no /proc/self/fd")
	}
	return path, f, nil
}
