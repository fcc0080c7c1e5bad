"""Benchmarks on the production code path: in process and over HTTP against a real server."""
