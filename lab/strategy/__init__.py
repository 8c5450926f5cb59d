"""Strategy: loading by file path, TA-Lib indicator helpers, output checks and the look-ahead check."""
