package apply

import (
	"fmt"
	"path/filepath"
	"strings"
)

// netnsDir is where `ip netns add` puts named network namespaces.
const netnsDir = "/run/netns"

// nsPath returns the file of a named network namespace, refusing names
// that would leave netnsDir.
func nsPath(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return "", fmt.Errorf("invalid network namespace name %q", name)
	}
	return filepath.Join(netnsDir, name), nil
}

// restorable reports why t could not be programmed back exactly as it is
// (content read from the kernel that the model only describes), or nil.
// Apply refuses to replace such a table: a rollback could not restore it.
func (t *Table) restorable() error {
	if t == nil {
		return nil
	}
	for i := range t.Sets {
		s := &t.Sets[i]
		switch {
		case s.Type != KeyIPv4 && s.Type != KeyIPv6 && s.Type != KeyPort:
			return fmt.Errorf("set %s has type %s", s.Name, s.Type)
		case s.plain:
			return fmt.Errorf("set %s is not an interval set", s.Name)
		}
	}
	for i := range t.Chains {
		c := &t.Chains[i]
		if c.Hook != "input" && c.Hook != "forward" || c.Type != "filter" {
			return fmt.Errorf("chain %s is not a filter chain on the input or forward hook", c.Name)
		}
		for _, r := range c.Rules {
			for _, e := range r.Exprs {
				if _, ok := e.(Unknown); ok {
					return fmt.Errorf("chain %s has a rule rpcspan cannot read back: %s", c.Name, r)
				}
			}
		}
	}
	return nil
}
