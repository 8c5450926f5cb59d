"""Dashboard: widget builders for the Voila apps. Reads the DB read-only; controls write commands."""
