"""asv benchmarks of linssl's Rust core, each paired with its NumPy/SciPy counterpart."""
