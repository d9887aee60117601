"""The crossmargin command line."""
