package report

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcspan/rpcspan/audit"
	"github.com/rpcspan/rpcspan/emit"
)

// requireTool finds a program the browser test needs. Missing, the test
// skips, unless CI demands the real-system tests (RPCSPAN_REQUIRE_INTEGRATION,
// set by .ci/run, which installs them with .ci/install-chromium.sh).
func requireTool(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found (Debian: .ci/install-chromium.sh installs it)", strings.Join(names, " or "))
	if os.Getenv("RPCSPAN_REQUIRE_INTEGRATION") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// fetchRecorder is an HTTP proxy that answers nothing and notes every
// request. Chromium sends all its traffic there (loopback included), so
// anything the page tried to load shows up in it.
type fetchRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (f *fetchRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	note := r.Method + " " + r.Host + r.URL.Path
	if r.Method == http.MethodPost {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 400))
		note += " " + strconv.Quote(string(body))
	}
	f.mu.Lock()
	f.seen = append(f.seen, note)
	f.mu.Unlock()
	http.Error(w, "rpcspan test: no fetches allowed", http.StatusForbidden)
}

// take returns the requests noted since the last call, apart from those
// of Chromium's own services.
func (f *fetchRecorder) take(t *testing.T) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var page []string
	for _, s := range f.seen {
		if browserService(s) {
			t.Logf("Chromium's own request, not the page's: %.80s", s)
			continue
		}
		page = append(page, s)
	}
	f.seen = nil
	return page
}

// browserService reports whether a request is one Chromium makes by
// itself whatever the page (Debian's chromium 156 asks for an on-demand
// component, the Optimization Guide model manifest, and for the signed-in
// accounts, which no switch turns off). These are exact service endpoints:
// a page loading anything from Google (fonts.googleapis.com, say) still
// counts as a fetch.
func browserService(req string) bool {
	for _, s := range []string{
		"CONNECT accounts.google.com:443",
		"CONNECT update.googleapis.com:443",
		"POST update.googleapis.com/service/update2/json ",
		"GET clients2.google.com/time/1/current",
		"CONNECT redirector.gvt1.com:443",
	} {
		if req == s || strings.HasSuffix(s, " ") && strings.HasPrefix(req, s) {
			return true
		}
	}
	return false
}

// browser runs headless Chromium the way the issue prescribes, each run
// with a fresh profile, all traffic through the recorder.
type browser struct {
	path  string
	proxy string
}

func (b browser) run(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--user-data-dir=" + t.TempDir(),
		"--proxy-server=" + b.proxy, "--proxy-bypass-list=<-loopback>",
		// Chromium's own services (component updates, sign-in, the time
		// check) talk to Google even with background networking off. These
		// switches silence most; browserService names the rest.
		"--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
		"--disable-domain-reliability", "--disable-client-side-phishing-detection", "--no-pings",
		"--disable-features=NetworkTimeServiceQuerying,OptimizationGuideModelDownloading,OptimizationHintsFetching",
		"--hide-scrollbars", "--force-device-scale-factor=1",
	}, args...)
	cmd := exec.CommandContext(ctx, b.path, all...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, tail(errb.String(), 2000))
	}
	return out.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// TestBrowser renders the example's report in a real browser: the DOM
// after the script ran, a screenshot and a PDF, with nothing fetched.
// go test ./audit/report -run Browser -update rewrites
// testdata/report.png, the screenshot the README shows.
func TestBrowser(t *testing.T) {
	chromium := os.Getenv("RPCSPAN_CHROMIUM")
	if chromium == "" {
		chromium = requireTool(t, "chromium", "chromium-browser", "google-chrome")
	}
	pdftotext := requireTool(t, "pdftotext")
	pdfinfo := requireTool(t, "pdfinfo")

	rec := &fetchRecorder{}
	proxy := httptest.NewServer(rec)
	defer proxy.Close()
	b := browser{path: chromium, proxy: proxy.URL}
	dir := t.TempDir()

	// The recorder must see what a page loads, or its silence proves
	// nothing.
	t.Run("recorder sees fetches", func(t *testing.T) {
		bait := filepath.Join(dir, "bait.html")
		html := `<!DOCTYPE html><title>bait</title><img src="http://fetch-check.invalid/x.png"><link rel="stylesheet" href="https://fetch-check.invalid/s.css">`
		if err := os.WriteFile(bait, []byte(html), 0o644); err != nil {
			t.Fatal(err)
		}
		b.run(t, "--dump-dom", "file://"+bait)
		seen := rec.take(t)
		if !slices.ContainsFunc(seen, func(s string) bool { return strings.Contains(s, "fetch-check.invalid") }) {
			t.Fatalf("the recorder saw %v, not the image and style sheet the page loads from fetch-check.invalid", seen)
		}
	})

	a, est := exampleReport(t)
	em, err := emit.Lookup("nftables")
	if err != nil {
		t.Fatal(err)
	}
	var rules bytes.Buffer
	if err := em.Emit(&rules, &emit.Input{Plan: audit.BuildPlan(est), Estate: est, Inputs: []string{"testdata/example"}}); err != nil {
		t.Fatal(err)
	}
	page := renderHTML(t, a, HTMLOptions{Estate: est, Inputs: []string{"testdata/example"}, EmitTarget: "nftables", Rules: rules.String()})
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	url := "file://" + file
	m := buildMap(est, a.Findings, nil, nil)
	noFetch := func(t *testing.T) {
		t.Helper()
		if seen := rec.take(t); len(seen) > 0 {
			t.Errorf("the page fetched %d resources: %v", len(seen), seen)
		}
	}

	t.Run("dom", func(t *testing.T) {
		dom := b.run(t, "--dump-dom", url)
		noFetch(t)
		for _, want := range []string{
			`data-script="ready"`, // the script ran to its end
			fmt.Sprintf(`<output id="f-count" aria-live="polite">%d of %d rows shown</output>`, len(groupFindings(a.Findings)), len(groupFindings(a.Findings))),
			`<div class="controls" id="findings-controls">`, // shown by the script
			fmt.Sprintf(`class="pmap" data-rows="%d"`, len(m.Rows)),
		} {
			if !strings.Contains(dom, want) {
				t.Errorf("the DOM lacks %s", want)
			}
		}
		rows := regexp.MustCompile(`<g class="row[^"]*" id="maprow-\d+" data-hosts="\d+"[^>]*><title>([^<]*)</title>`).FindAllStringSubmatch(dom, -1)
		if len(rows) != len(m.Rows) {
			t.Fatalf("the map in the DOM has %d rows, want %d", len(rows), len(m.Rows))
		}
		for i, r := range m.Rows {
			if got := rows[i][1]; !strings.HasPrefix(got, r.Hosts[0]) && !strings.Contains(got, " "+r.Hosts[0]+",") {
				t.Errorf("map row %d is titled %q, want it to name %s", i+1, got, r.Hosts[0])
			}
		}
	})

	// The script sorts and filters in the browser: a second inline script
	// (the CSP allows inline ones) clicks and types, then notes what the
	// table shows.
	t.Run("sort and filter", func(t *testing.T) {
		const probe = `<script>
(function () {
  var t = document.getElementById('findings-table');
  var rows = function () { return Array.prototype.slice.call(t.tBodies[0].rows); };
  var host = t.tHead.rows[0].cells[1].querySelector('button');
  host.click();
  var asc = rows()[0].cells[1].textContent;
  host.click();
  var desc = rows()[0].cells[1].textContent;
  var q = document.getElementById('f-text');
  q.value = 'EXCLUDED-overlap';
  q.dispatchEvent(new Event('input'));
  var text = rows().filter(function (r) { return !r.hidden; }).length;
  q.value = '';
  q.dispatchEvent(new Event('input'));
  var sev = document.getElementById('f-sev');
  sev.value = '2';
  sev.dispatchEvent(new Event('change'));
  var errors = rows().filter(function (r) { return !r.hidden; }).length;
  document.body.setAttribute('data-check', [asc, desc, text, errors, document.getElementById('f-count').textContent].join('|'));
}());
</script></body>`
		probed := filepath.Join(dir, "probed.html")
		if err := os.WriteFile(probed, []byte(strings.Replace(page, "</body>", probe, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		dom := b.run(t, "--dump-dom", "file://"+probed)
		noFetch(t)
		m := regexp.MustCompile(`data-check="([^"]*)"`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatal("the probe script left no result: the report's script failed?")
		}
		rows := groupFindings(a.Findings)
		var hosts []string
		text, errors := 0, 0
		for _, r := range rows {
			hosts = append(hosts, strings.Join(r.Hosts, ", "))
			if strings.Contains(strings.ToLower(r.ID+" "+r.Message), "excluded-overlap") {
				text++
			}
			if r.Rank == 2 {
				errors++
			}
		}
		slices.Sort(hosts)
		want := fmt.Sprintf("%s|%s|%d|%d|%d of %d rows shown", hosts[0], hosts[len(hosts)-1], text, errors, errors, len(rows))
		t.Logf("table after sorting and filtering: %s", m[1])
		if m[1] != want {
			t.Errorf("after sorting by host and filtering, the table shows %q, want %q", m[1], want)
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		for _, size := range []struct {
			name   string
			w, h   int
			golden string
		}{
			{"desktop", 1200, 1500, filepath.Join("testdata", "report.png")},
			// Headless Chromium does not lay out narrower than 500 pixels;
			// the phone layout (one column, tables scrolling on their own)
			// starts at 40rem.
			{"narrow", 500, 1000, ""},
		} {
			png := filepath.Join(dir, size.name+".png")
			b.run(t, fmt.Sprintf("--window-size=%d,%d", size.w, size.h), "--screenshot="+png, url)
			noFetch(t)
			img := decodePNG(t, png)
			if got := img.Bounds().Size(); got != image.Pt(size.w, size.h) {
				t.Errorf("%s screenshot is %v, want %dx%d", size.name, got, size.w, size.h)
			}
			if n := colours(img); n < 20 {
				t.Errorf("%s screenshot has %d colours; a rendered report has far more", size.name, n)
			}
			if *update && size.golden != "" {
				data, err := os.ReadFile(png)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(size.golden, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if dst := os.Getenv("RPCSPAN_SCREENSHOT_DIR"); dst != "" {
				data, _ := os.ReadFile(png)
				_ = os.WriteFile(filepath.Join(dst, size.name+".png"), data, 0o644)
			}
		}
	})

	t.Run("pdf", func(t *testing.T) {
		pdf := filepath.Join(dir, "report.pdf")
		b.run(t, "--no-pdf-header-footer", "--print-to-pdf="+pdf, url)
		noFetch(t)
		info, err := exec.Command(pdfinfo, pdf).Output()
		if err != nil {
			t.Fatalf("pdfinfo: %v", err)
		}
		pages := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(info)
		if pages == nil {
			t.Fatalf("pdfinfo shows no page count:\n%s", info)
		}
		if n, _ := strconv.Atoi(string(pages[1])); n < 2 {
			t.Errorf("the PDF has %d pages, want the whole report on at least 2", n)
		}
		text, err := exec.Command(pdftotext, pdf, "-").Output()
		if err != nil {
			t.Fatalf("pdftotext: %v", err)
		}
		for _, want := range []string{"Port-range map", "The map as a table", "Findings", "Required flows", "Rules for nftables", "table inet rpcspan", "Migration to 49152-65535"} {
			if !bytes.Contains(text, []byte(want)) {
				t.Errorf("the PDF's text lacks %q", want)
			}
		}
		for _, h := range est.Hosts() {
			if !bytes.Contains(text, []byte(h.Name)) {
				t.Errorf("the PDF's text lacks host %s", h.Name)
			}
		}
	})
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	return img
}

// colours counts the distinct colours of img, up to 1000.
func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 3 {
		for x := r.Min.X; x < r.Max.X; x += 3 {
			c1, c2, c3, c4 := img.At(x, y).RGBA()
			seen[[4]uint32{c1, c2, c3, c4}] = true
			if len(seen) >= 1000 {
				return len(seen)
			}
		}
	}
	return len(seen)
}
