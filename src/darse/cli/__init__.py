"""The command line: one module per command group; parsing and rendering only, no logic."""
