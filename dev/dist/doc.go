// Package dist holds what netspot ships beside its binary — the service's
// config (netspot.toml), its systemd unit (netspot.service), its man page
// (netspot.1) and the Debian packaging (mkdeb, deb/) — and the tests of
// everything shipped: Dockerfile.cross, the packaged config and unit, and,
// on the outputs of `make cross` and `make deb` (NETSPOT_DIST, set by
// `make dist-test`), the binaries (static, stripped, stamped, small), the
// same alarms from the same capture on every processor, the packages'
// contents and lintian, and an install in a Debian chroot (NETSPOT_CHROOT).
//
// It has no code, only tests.
package dist
