//! Process metrics from procfs: the exporter's own `process_*` and watched processes.
