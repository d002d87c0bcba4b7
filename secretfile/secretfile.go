// Package secretfile reads credentials from files under one set of rules,
// whoever reads them (static keys, Entra client secrets and certificates,
// cloud key files, the file and oauth2 plugins): a regular file, readable by
// its owner only, at most MaxSize bytes, opened without blocking.
package secretfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/byokcred/byokcred/credential"
)

// MaxSize caps a secret file. A credential is bytes, not
// megabytes: API keys are under 200 bytes and the largest bearer tokens seen
// (Entra tokens with many group claims, client certificates with a chain) are
// a few KiB, while servers refuse request headers beyond 8–64 KiB anyway. The
// cap stops a wrong path (a log, a disk image, a 2 GiB sparse file) from
// being read into memory.
const MaxSize = 64 << 10

// Error is the error of every function here: what is wrong with a file,
// naming its path, never its content. Its message starts "secretfile: "
// (see [Reason]). Unwrap gives the OS error, if any (errors.Is(err,
// fs.ErrNotExist) holds for a missing file).
type Error struct {
	reason string
	err    error
}

func (e *Error) Error() string { return "secretfile: " + e.reason }

func (e *Error) Unwrap() error { return e.err }

// Reason is what is wrong with the file, without the package prefix, when
// err is an [*Error] (else err's message): for a caller that says in its
// own words which setting named the file.
func Reason(err error) string {
	if e, ok := err.(*Error); ok {
		return e.reason
	}
	return err.Error()
}

// errorf makes an *Error; a %w verb's error is its Unwrap.
func errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{reason: err.Error(), err: errors.Unwrap(err)}
}

// CheckMode refuses a secret file that group or others can read,
// that is not a regular file (a FIFO would block the reader; a device never
// ends) or that is larger than [MaxSize].
func CheckMode(path string, fi fs.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return errorf("%s is readable by group or others (mode %04o); run: chmod 600 %s", path, perm, path)
	}
	if !fi.Mode().IsRegular() {
		return errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() > MaxSize {
		return errorf("%s is %d bytes; a credential file holds at most %d", path, fi.Size(), MaxSize)
	}
	return nil
}

// ReadBytes reads a secret file (a key, a client secret, a
// certificate) safely: it opens without blocking, checks what it opened
// (the path may have been swapped since it was stat'ed) with
// [CheckMode], and reads at most [MaxSize] bytes, since a
// pseudo-file such as /proc/self/environ reports size 0 whatever it holds.
func ReadBytes(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, errorf("%w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, errorf("%w", err)
	}
	if err := CheckMode(path, fi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, errorf("%w", err)
	}
	if len(b) > MaxSize {
		return nil, errorf("%s holds more than %d bytes; a credential file holds at most that", path, MaxSize)
	}
	return b, nil
}

// Read checks the mode of an already-stat'ed file, reads it, and
// trims one trailing newline (editors and `echo` add one; keys never end in one).
// read defaults to [ReadBytes]. A NUL byte is refused: text
// credentials never hold one, and it marks a binary or pseudo-file read by
// mistake.
func Read(path string, fi fs.FileInfo, read func(string) ([]byte, error)) (credential.Secret, error) {
	if err := CheckMode(path, fi); err != nil {
		return credential.Secret{}, err
	}
	var b []byte
	var err error
	if read == nil {
		b, err = ReadBytes(path)
	} else if b, err = read(path); err != nil {
		err = errorf("%w", err)
	}
	if err != nil {
		return credential.Secret{}, err
	}
	if len(b) > MaxSize {
		return credential.Secret{}, errorf("%s holds more than %d bytes; a credential file holds at most that", path, MaxSize)
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return credential.Secret{}, errorf("%s: byte %d is a NUL byte; it is not a text credential file", path, i)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return credential.Secret{}, errorf("%s is empty", path)
	}
	return credential.NewSecret(v), nil
}

// ReadLimited reads a file that feeds a cloud SDK credentials without being
// one of byokcred's own secret files — an AWS shared config, Application
// Default Credentials JSON, a web-identity token — under the rules of
// [ReadBytes] but the owner-only mode (the cloud tools write some of these
// 0644, and refusing them would break working setups): a regular file (a
// FIFO would block the reader, a device never ends, a directory is a
// mistake) of at most max bytes, opened without blocking, checked on the
// opened file and read at most max+1 bytes. Its errors name path, not the
// content; a missing file's error satisfies errors.Is(err, fs.ErrNotExist).
func ReadLimited(path string, max int64) ([]byte, error) {
	f, err := OpenLimited(path, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, errorf("%w", err)
	}
	if int64(len(b)) > max {
		return nil, errorf("%s holds more than %d bytes (a file that grows while read, or a pseudo-file); at most %d are read", path, max, max)
	}
	return b, nil
}

// OpenLimited opens path for [ReadLimited]'s rules without reading it, for
// a caller that only checks a file another library will read: it refuses
// what is not a regular file before opening it (opening a device can have
// effects of its own), opens without blocking, and checks the opened file
// again (the path may have been swapped in between).
func OpenLimited(path string, max int64) (*os.File, error) {
	// Stat follows a symlink: a link to a regular file is fine (dotfiles
	// managers use them), a link to /dev/zero is not.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, errorf("%w", err)
	}
	if err := checkLimited(path, fi, max); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, errorf("%w", err)
	}
	if fi, err = f.Stat(); err != nil {
		f.Close()
		return nil, errorf("%w", err)
	}
	if err := checkLimited(path, fi, max); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func checkLimited(path string, fi fs.FileInfo, max int64) error {
	if !fi.Mode().IsRegular() {
		return errorf("%s is %s, not a regular file", path, fileKind(fi.Mode()))
	}
	if fi.Size() > max {
		return errorf("%s is %d bytes; at most %d are read", path, fi.Size(), max)
	}
	return nil
}

// fileKind names a file type for an error.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file (" + m.Type().String() + ")"
}
