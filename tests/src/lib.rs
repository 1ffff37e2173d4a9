//! Harness for end-to-end tests: starts real daemons on loopback and stops them.
