//! The one integration-test binary: each module starts a real Shoal daemon on loopback.
