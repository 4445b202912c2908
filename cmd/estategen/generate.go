package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
)

// Stats says what Generate wrote.
type Stats struct {
	Hosts int   // hosts in the inventory
	Files int   // files written, the inventory included
	Bytes int64 // bytes written
}

// Generate writes an estate of hosts servers drawn from seed into the
// folder out: out/inventory.yaml and out/captures/HOST/*. The same
// arguments always give the same bytes. out must be missing, empty, or an
// earlier estategen output, whose inventory.yaml and captures/ are replaced.
func Generate(out string, hosts int, seed uint64) (Stats, error) {
	if out == "" {
		return Stats{}, errors.New("no output folder given")
	}
	// Both PCG words come from the seed; the odd constant keeps them apart.
	r := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	e, err := newEstate(hosts, r)
	if err != nil {
		return Stats{}, err
	}
	if err := prepare(out); err != nil {
		return Stats{}, err
	}
	st := Stats{Hosts: len(e.hosts)}

	var inv bytes.Buffer
	writeInventory(&inv, e, hosts, seed)
	if err := os.WriteFile(filepath.Join(out, "inventory.yaml"), inv.Bytes(), 0o644); err != nil {
		return st, err
	}
	st.Files++
	st.Bytes += int64(inv.Len())

	// Rendering is sequential (it decides nothing, but keeps errors in host
	// order); creating thousands of small files is bound by the file system,
	// so a few writers work in parallel.
	jobs := make(chan hostDir)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var first error
			for j := range jobs {
				if first == nil {
					first = j.write()
				}
			}
			errs <- first
		}()
	}
	dns := dnsServers(e)
	var renderErr error
	for _, h := range e.hosts {
		fs, err := hostFiles(h, dns[h.site])
		if err != nil {
			renderErr = fmt.Errorf("host %s: %w", h.name, err)
			break
		}
		if len(fs) == 0 {
			continue
		}
		for _, f := range fs {
			st.Files++
			st.Bytes += int64(len(f.data))
		}
		jobs <- hostDir{filepath.Join(out, "captures", h.name), fs}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	if renderErr != nil {
		return st, renderErr
	}
	for err := range errs {
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// writers is the number of goroutines creating capture files.
const writers = 4

// hostDir is one host's capture folder and its files.
type hostDir struct {
	dir   string
	files []file
}

func (d hostDir) write() error {
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}
	for _, f := range d.files {
		if err := os.WriteFile(filepath.Join(d.dir, f.name), f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// file is one capture of a host.
type file struct {
	name string
	data []byte
}

// hostFiles renders the captures h has, in a fixed order.
func hostFiles(h *host, dns []string) ([]file, error) {
	var out []file
	if h.f.netsh {
		b, err := renderNetsh(h)
		if err != nil {
			return nil, err
		}
		out = append(out, file{"netsh.txt", b})
	}
	if h.f.psTCP {
		out = append(out, file{"Get-NetTCPSetting.txt", renderPSTCP(h)})
	}
	if h.f.psUDP {
		out = append(out, file{"Get-NetUDPSetting.txt", renderPSUDP(h)})
	}
	if h.f.reg {
		out = append(out, file{"rpc-internet.reg", renderReg(h)})
	}
	if h.f.ipconfig {
		out = append(out, file{"ipconfig.txt", renderIPConfig(h, dns)})
	}
	if h.f.smb {
		out = append(out, file{"smb.conf", renderSmbConf(h)})
	}
	return out, nil
}

// dnsServers returns, per site, the DNS servers its hosts use: the site's
// first domain controller, then the first one of the next site.
func dnsServers(e *estate) map[int][]string {
	first := map[int]string{}
	for _, h := range e.hosts {
		if h.role.id == "dc" && first[h.site] == "" {
			first[h.site] = h.v4.String()
		}
	}
	out := map[int][]string{}
	for s := 1; s <= e.sites; s++ {
		var l []string
		if a := first[s]; a != "" {
			l = append(l, a)
		}
		if a := first[s%e.sites+1]; a != "" && s%e.sites+1 != s {
			l = append(l, a)
		}
		out[s] = l
	}
	return out
}

// prepare makes out ready: created when missing, left alone when empty, and
// emptied of inventory.yaml and captures/ when an earlier estategen run
// wrote it. Anything else is refused, so that a mistyped -out never deletes
// someone's files.
func prepare(out string) error {
	entries, err := os.ReadDir(out)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(out, 0o755)
	}
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	inv := filepath.Join(out, "inventory.yaml")
	f, err := os.Open(inv)
	if err != nil {
		return fmt.Errorf("%s is not empty and holds no estategen output; choose another folder", out)
	}
	head := make([]byte, len(headerMark))
	_, err = io.ReadFull(f, head)
	f.Close()
	if err != nil || string(head) != headerMark {
		return fmt.Errorf("%s is not empty and holds no estategen output; choose another folder", out)
	}
	if err := os.RemoveAll(filepath.Join(out, "captures")); err != nil {
		return err
	}
	return os.Remove(inv)
}
