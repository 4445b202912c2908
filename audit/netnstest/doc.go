// Package netnstest is test support for tests that need a real network: it
// creates private network namespaces, joins them with veth pairs, runs
// commands and opens sockets inside them, and removes them again. It only
// ever touches links, addresses, routes, sysctls and rules inside
// namespaces it created itself; nothing is added to, or sent from, the
// namespace the tests run in.
//
// Namespace is one such namespace. Create makes one that the caller
// closes (for a lab shared by a whole test binary and torn down in
// TestMain); NewNamespace makes one that t.Cleanup removes. Names come
// from Prefix, which adds the pid and a random suffix, so that parallel
// test binaries never collide. Lab, made by New, is the three-namespace
// client / fw / server line that the emitters' kernel tests load rules
// into.
//
// Every command runs with a bounded time (two minutes), so that a hung
// tool fails the test instead of hanging it; waits for a lab to become
// ready are bounded as well.
//
// Listeners and dials run in the test process itself: a goroutine locks
// its OS thread, setns(2)es the thread into the namespace and opens the
// socket there. A socket stays in the namespace it was created in, so the
// rest of the program may use it from any thread. The goroutine never
// unlocks its thread, so the Go runtime throws the thread away instead of
// reusing it in the wrong namespace.
//
// Require and Skip skip a test when the process is not root, setns(2) is
// unknown on the architecture, a tool is missing or the kernel refuses a
// new namespace, and fail it instead when RPCSPAN_REQUIRE_INTEGRATION is
// set to anything but the empty string, as CI (.ci/run) does.
package netnstest
