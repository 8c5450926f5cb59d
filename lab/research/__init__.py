"""Research: truth benchmarks, read-only DB access, analysis modules, statistical tests, Kelly theory."""
