"""A run on disk and on screen: records, run directories, logs, progress and reports."""
