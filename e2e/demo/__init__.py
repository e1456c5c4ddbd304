"""`make demo`: the examples on the local cluster with simulated traffic (see `__main__`)."""
