"""Command-line sub-commands, one module each; see `pimsim.cli`."""
