"""CLI sub-commands, one module per area (cases, tools, eval, studio, feedback)."""
