"""Redis-backed state: records' features (for joining corrections and relabeling) and model snapshots."""
