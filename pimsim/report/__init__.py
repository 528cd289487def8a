"""Reports: pimsim.report.v1 JSON, per-op CSV, Perfetto timeline, terminal tables."""
