//go:build !linux

package apply

import "errors"

// errNotLinux is what the kernel operations answer off Linux: nftables
// and netlink exist only there.
var errNotLinux = errors.New("apply needs Linux (nftables through netlink)")

// Current reads table inet rpcspan from the kernel; only on Linux.
func Current(ns string) (*Table, error) { return nil, errNotLinux }

// Apply replaces table inet rpcspan in the kernel; only on Linux.
func Apply(want *Table, o Options) (prev *Table, err error) { return nil, errNotLinux }

// Restore puts a previous table back; only on Linux.
func Restore(prev *Table, o Options) error { return errNotLinux }
