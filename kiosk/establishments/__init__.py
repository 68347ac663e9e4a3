"""The establishment and its settings: theme, calling rule, opening hours."""
