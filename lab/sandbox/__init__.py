"""The sandbox: untrusted code screened, then run in an isolated, unprivileged, limited process."""
